"""Using a trained model: bundles (``bundle``), ``recommend`` with explanations (``recommender``),
request-post featurisation (``posts``) and the HTTP API (``api``). docs/design.md section 9."""
