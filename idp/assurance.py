"""Assurance constants in one place: ``acr`` and ``amr`` values, and MFA requests (docs/CONTRACTS.md).

Low in the layers: it imports nothing from the rest of ``idp``, so the blueprints, the web layer,
the discovery metadata and the flow steps under ``flows/`` can all share it.
"""

from __future__ import annotations

#: ``acr`` of a session signed in with a password only.
ACR_PWD = "urn:idp:acr:pwd"
#: ``acr`` of a session with a second factor.
ACR_MFA = "urn:idp:acr:mfa"
#: The ``acr`` values the provider issues (discovery ``acr_values_supported``).
ACR_VALUES_SUPPORTED = (ACR_PWD, ACR_MFA)

#: ``amr`` of a proved password.
AMR_PWD = "pwd"
#: ``amr`` added once a second factor follows a password.
AMR_MFA = "mfa"
#: ``amr`` of a proved TOTP code.
AMR_OTP = "otp"
#: ``amr`` of a proved SMS code.
AMR_SMS = "sms"
#: ``amr`` of a passkey kept on one device (RFC 8176 ``hwk``: a hardware-secured key).
AMR_HWK = "hwk"
#: ``amr`` of a passkey that may be synced between devices (RFC 8176 ``swk``: a software-secured key).
AMR_SWK = "swk"
#: ``amr`` of the user verification a passkey's authenticator performed (RFC 8176 ``user``).
AMR_USER = "user"
#: ``amr`` values that count as a second factor.
SECOND_FACTOR_AMR = (AMR_OTP, AMR_SMS, AMR_HWK, AMR_SWK)

#: ``acr_values`` that ask for a second factor.
MFA_REQUESTS = (ACR_MFA, AMR_MFA)
