"""End users of a tenant: accounts, passwords and second factors."""
