"""What the SES and SNS backends share: one boto3 client per backend, and how AWS errors map to ours.

Clients honour boto3's own environment (``AWS_DEFAULT_REGION``, ``AWS_ENDPOINT_URL`` and
``AWS_ENDPOINT_URL_<SERVICE>``, the credentials chain); ``AWS_REGION``, the name the other
AWS SDKs read, is used only when boto3 finds no region of its own. Retries are botocore's
``standard`` mode (3 attempts, exponential backoff with jitter, retry quota) with explicit
connect and read time-outs (R-93). botocore retries throttling it knows (SES ``Throttling``,
``ThrottlingException``, ``TooManyRequestsException``) and transient network errors; SNS's
``Throttled`` code is not on its list, so :func:`call_with_backoff` adds a bounded
app-level backoff for it (R-92). Permanent refusals are never retried (R-87).
"""

from __future__ import annotations

import logging
import os
import random
import time
from collections.abc import Callable
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    ReadTimeoutError,
)

from idp.messaging.contract import DeliveryError, DeliveryFailed, DeliveryRefused
from idp.settings import SettingsError

log = logging.getLogger("idp.messaging")

#: Seconds to open a connection to the AWS endpoint (R-93).
CONNECT_TIMEOUT = 3.0
#: Seconds to wait for the answer once the request is sent (R-93).
READ_TIMEOUT = 10.0
#: Attempts per call, the first included (botocore's ``standard`` mode default, R-93).
MAX_ATTEMPTS = 3

#: Codes that mean "slow down": retried, and transient when they outlast the retries (R-86, R-92).
THROTTLING_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "TooManyRequestsException",
        "LimitExceededException",
        "Throttled",
        "ThrottledException",
    }
)
#: Throttling codes older botocore releases' standard mode does not retry by itself (SNS ``Throttled``,
#: HTTP 429); retried here only when botocore did not (:func:`_retried_by_botocore`).
APP_RETRIED_CODES = frozenset({"Throttled"})

_REFUSED: dict[str, str] = {
    # SES v2 and v1 names.
    "MessageRejected": "rejected",
    "BadRequestException": "rejected",
    "NotFoundException": "rejected",
    "InvalidParameterValue": "rejected",
    "MailFromDomainNotVerifiedException": "sender-not-verified",
    "MailFromDomainNotVerified": "sender-not-verified",
    "AccountSendingPausedException": "sending-paused",
    "ConfigurationSetSendingPausedException": "sending-paused",
    "SendingPausedException": "sending-paused",
    "AccountSuspendedException": "sending-paused",
    # SNS.
    "OptedOut": "opted-out",
    "InvalidParameter": "invalid-number",
    "ParameterValueInvalid": "invalid-number",
    # Either: the credentials or the policy refuse the call.
    "AccessDenied": "not-authorized",
    "AccessDeniedException": "not-authorized",
    "AuthorizationError": "not-authorized",
    "InvalidClientTokenId": "not-authorized",
    "UnrecognizedClientException": "not-authorized",
    "SignatureDoesNotMatch": "not-authorized",
}


def make_client(
    service: str,
    *,
    connect_timeout: float = CONNECT_TIMEOUT,
    read_timeout: float = READ_TIMEOUT,
    max_attempts: int = MAX_ATTEMPTS,
) -> Any:
    """A boto3 client for ``service`` on its own session (sessions are not thread-safe, clients are)."""
    session = boto3.session.Session()
    region = session.region_name or os.environ.get("AWS_REGION") or None
    config = Config(
        # ``total_max_attempts`` counts the first request; ``max_attempts`` would count retries only
        # (3 retries = 4 attempts), which is not R-93's "3 attempts".
        retries={"mode": "standard", "total_max_attempts": max_attempts},
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        user_agent_extra="idp-messaging",
    )
    try:
        return session.client(service, region_name=region, config=config)
    except NoRegionError:
        raise SettingsError(
            f"the {service} backend needs an AWS region: set AWS_REGION or AWS_DEFAULT_REGION"
        ) from None


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def classify(exc: Exception) -> DeliveryError:
    """Our error for a botocore error; its text holds only the AWS code, never the AWS message
    (which may quote the recipient's address or number)."""
    if isinstance(exc, ClientError):
        code = error_code(exc)
        status = int(
            exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
        )
        if code in THROTTLING_CODES:
            return DeliveryFailed("throttled", code)
        if code in _REFUSED:
            return DeliveryRefused(_REFUSED[code], code)
        if status >= 500 or status == 0:
            return DeliveryFailed("unavailable", code or str(status))
        return DeliveryRefused("rejected", code or str(status))
    if isinstance(
        exc, (EndpointConnectionError, ConnectTimeoutError, ConnectionClosedError)
    ):
        return DeliveryFailed("unreachable", type(exc).__name__)
    if isinstance(exc, ReadTimeoutError):
        return DeliveryFailed("timeout", type(exc).__name__)
    if isinstance(exc, NoCredentialsError):
        return DeliveryFailed("no-credentials", type(exc).__name__)
    return DeliveryFailed("error", type(exc).__name__)


def _retried_by_botocore(exc: ClientError) -> bool:
    """Whether botocore already retried this answer itself (its releases from 1.44 retry an HTTP 429 whose
    code the service model does not name, SNS ``Throttled`` included): retrying it again here would multiply
    the attempts (R-93: 3 in all)."""
    return int(exc.response.get("ResponseMetadata", {}).get("RetryAttempts") or 0) > 0


def call_with_backoff(
    call: Callable[..., Any],
    *,
    attempts: int = MAX_ATTEMPTS,
    base_delay: float = 0.5,
    max_delay: float = 5.0,
    sleep: Callable[[float], None] = time.sleep,
    **kwargs: Any,
) -> Any:
    """``call(**kwargs)``, retrying the throttling codes botocore leaves alone (:data:`APP_RETRIED_CODES`)
    with full-jitter exponential backoff, ``attempts`` times at most; raises a :class:`DeliveryError`."""
    for attempt in range(attempts):
        try:
            return call(**kwargs)
        except ClientError as exc:
            if error_code(exc) in APP_RETRIED_CODES and attempt + 1 < attempts and not _retried_by_botocore(exc):
                sleep(random.uniform(0, min(max_delay, base_delay * 2**attempt)))
                continue
            raise classify(exc) from None
        except BotoCoreError as exc:
            raise classify(exc) from None
    raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises
