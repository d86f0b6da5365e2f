"""What a tenant and an app id look like to the identity platform: the path segments that name no single
tenant, a tenant's shape (a GUID or a domain name), and a GUID."""

from __future__ import annotations

import re

# The authority segments that name no tenant: a token needs a real one (each conversation's).
MULTI_TENANT_SEGMENTS = frozenset({"common", "organizations", "consumers"})
TENANT_SHAPE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.-]{0,253}$")  # a GUID or a domain name
GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
