"""The content layer: what content-aware models read about users, built from per-post features.

Per-post extraction (:mod:`amae.features`) writes one vector per post and knows nothing of users'
windows or models. This package turns those vectors into what models read: the content store
(:mod:`.store`, :mod:`.posts`: posts sorted by user and time, global and contextual means,
standardised with :mod:`.standardize`) and the typed user-content kinds (:mod:`.kinds`), each
registered in the module that defines it (``posts``, ``emotions`` in :mod:`.emotion`, ``words`` in
:mod:`.words`). See docs/design.md section 5 and docs/architecture.md.
"""
