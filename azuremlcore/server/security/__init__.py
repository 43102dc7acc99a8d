"""Who may call the server: the token issuer (OIDC), the principals and roles database, and the checks."""
