"""Multi-site studies: a site's bundle (the file format), the pool of bundles, a federated run
without a platform and its vantage6 algorithm."""
