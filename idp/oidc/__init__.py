"""OpenID Connect and OAuth 2.0 on Authlib's server components, one issuer per tenant."""
