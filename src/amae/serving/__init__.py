"""Using a trained model: bundles (``bundle``), ``recommend`` with explanations (``recommender``),
request-post featurisation (``posts``) and the HTTP API (``api``). DESIGN section 9."""
