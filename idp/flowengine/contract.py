"""The public contract of authentication flows: what a plugin in ``flows/`` imports.

No I/O and no Flask here. A *step* is one small class with two entry points,
``challenge()`` (show the page: GET) and ``submit()`` (handle the form: POST),
each returning an :data:`Outcome` value. A *flow* is an ordered tuple of steps;
the engine (:mod:`idp.flowengine.engine`) runs the bindings of the flow in order
(:mod:`idp.flowengine.bindings`: required, alternative, conditional sub-flows), and refuses a step
whose required proofs are missing (R-43).

Worked example, a step that asks for a password::

    class PasswordStep(Step):
        name = "password"
        requires = ("identified",)
        provides = ("password",)
        template = "login/password.html"

        def challenge(self, ctx):
            return Challenge(self.template, {})

        def submit(self, ctx, form):
            if ctx.services.users.verify_password(ctx.user, form.get("password", "")):
                return Success(proofs=("password",), amr=("pwd",))
            return Failure("invalid_credentials")

A step that checks a secret declares :attr:`Step.attempts`; the engine then throttles every attempt
before ``submit()`` runs, counts its failures, writes its audit events and sends the failed-second-factor
notice (:mod:`idp.flowengine.attempts`): the step only answers ``Success`` or ``Failure("invalid_code")``.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

# What a plugin may use besides the step contract below, re-exported so that ``flows/`` imports this
# module alone (tests/test_layers.py checks it): the assurance names, factor and account errors, the
# tenant-config helpers for a plugin's own settings, its own message templates, and two store helpers.
# (Throttling is not among them: the engine counts a step's attempts, see :class:`Attempts`.)
from idp.accounts.factor_results import FactorError, SmsError, UserFactors, group_secret
from idp.accounts.users import UserError
from idp.assurance import AMR_HWK, AMR_MFA, AMR_OTP, AMR_PWD, AMR_SMS, AMR_SWK, AMR_USER, MFA_REQUESTS
from idp.flowengine.bindings import ALTERNATIVE, CONDITIONAL, DISABLED, REQUIRED, Binding, Requirement, bind, sub_flow
from idp.messaging import Brand, Email, MessageTemplates, Sms, TemplateSpec, message_templates
from idp.request_info import RequestInfo
from idp.security.secrets import random_token
from idp.storage.models import User
from idp.store import user_flows_label
from idp.tenants.config import DAY, ConfigError, bounded
from idp.tenants.service import TenantView

if TYPE_CHECKING:  # pragma: no cover
    from idp.accounts.factors import FactorService
    from idp.accounts.locks import AccountLocks
    from idp.accounts.users import UserService
    from idp.audit import AuditLog
    from idp.messaging import Mailer, Texter
    from idp.security.secrets import SecretBox
    from idp.security.throttle import Throttle
    from idp.settings import Settings
    from idp.store import EphemeralStore

__all__ = [
    "ALTERNATIVE",
    "AMR_HWK",
    "AMR_MFA",
    "AMR_OTP",
    "AMR_PWD",
    "AMR_SMS",
    "AMR_SWK",
    "AMR_USER",
    "CONDITIONAL",
    "DAY",
    "DESIGNATIONS",
    "DISABLED",
    "LOGIN",
    "MFA_REQUESTS",
    "N_",
    "RECOVERY",
    "REQUIRED",
    "SECOND_FACTOR",
    "Abort",
    "Attempts",
    "Binding",
    "Branch",
    "Brand",
    "Challenge",
    "Condition",
    "ConfigError",
    "Email",
    "Entry",
    "FactorError",
    "Failure",
    "Flow",
    "FlowState",
    "MessageTemplates",
    "NoConfig",
    "Outcome",
    "RequestInfo",
    "Requirement",
    "RunReads",
    "Skip",
    "Sms",
    "SmsError",
    "Step",
    "StepContext",
    "StepServices",
    "Success",
    "TemplateSpec",
    "TenantView",
    "User",
    "UserError",
    "UserFactors",
    "bind",
    "bounded",
    "group_secret",
    "message_templates",
    "random_token",
    "sub_flow",
    "user_flows_label",
]


# -- outcomes -----------------------------------------------------------------


@dataclass(frozen=True)
class Challenge:
    """Render ``template`` with ``context`` (the step's page)."""

    template: str
    context: Mapping[str, Any] = field(default_factory=dict)
    status: int = 200


@dataclass(frozen=True)
class Success:
    """The step is done; record what it proved and move on."""

    proofs: tuple[str, ...] = ()
    amr: tuple[str, ...] = ()
    #: Set by the step that identifies the user.
    user_id: int | None = None
    #: The step's service already wrote :attr:`Attempts.ok_event` in the transaction of the check itself
    #: (the factor's last use with it); the engine does not write it again.
    audited: bool = False


@dataclass(frozen=True)
class Failure:
    """The submission failed: render the step again with an error message id."""

    error: str
    context: Mapping[str, Any] = field(default_factory=dict)
    status: int = 200
    #: Why the check failed, for the audit event (``replay``, ``expired``...; empty: the error says it).
    reason: str = ""
    #: Whether this failure counts as a failed attempt of the step's secret (:attr:`Step.attempts`); False
    #: for a refusal that checked nothing (no code was ever sent, say): its throttle slot is given back.
    counted: bool = True


@dataclass(frozen=True)
class Skip:
    """The step does not apply to this user; move on without proving anything."""


@dataclass(frozen=True)
class Abort:
    """The flow cannot go on (expired link, no phone on file...): show ``error`` and end it."""

    error: str
    status: int = 400
    context: Mapping[str, Any] = field(default_factory=dict)


Outcome = Challenge | Success | Failure | Skip | Abort


@dataclass(frozen=True)
class Entry:
    """A run that starts from an out-of-band proof (an emailed link), already past its first steps."""

    user_id: int
    proofs: tuple[str, ...]
    #: Steps the entry stands for (they will not run).
    done: tuple[str, ...] = ()
    #: The language the run speaks, carried by the link (``en``, ``fr``; empty: chosen on its first page).
    locale: str = ""


# -- state --------------------------------------------------------------------


@dataclass
class FlowState:
    """Where one run of a flow stands; JSON in the ephemeral store, so any worker continues it."""

    id: str
    tenant: str
    flow: str
    #: Digest of the browser binding cookie: the state answers only that browser (R-99).
    browser: str
    created_at: float = field(default_factory=time.time)
    user_id: int | None = None
    #: Ids of the bindings that have run (succeeded or stepped aside) or were passed over, in order.
    done: list[str] = field(default_factory=list)
    #: Ids of the bindings that succeeded (an alternative's success settles its level).
    passed: list[str] = field(default_factory=list)
    #: Ids of the conditional sub-flows the run entered (their condition is judged once).
    entered: list[str] = field(default_factory=list)
    #: Failed attempts of this run per binding id (for :attr:`Binding.max_failures`).
    failures: dict[str, int] = field(default_factory=dict)
    #: What has been proved so far (``identified``, ``password``, ``totp``, ``sms``, ``email_link`` ...).
    proofs: list[str] = field(default_factory=list)
    #: Authentication method references for the ID token (``pwd``, ``otp``, ``sms``, ``mfa``).
    amr: list[str] = field(default_factory=list)
    #: The parked authorization request (query parameters) this flow resumes, if any.
    auth_request: dict[str, str] | None = None
    #: Per-binding data, keyed by binding id (each step owns its binding's key and nothing else).
    data: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: Set when the last step succeeded.
    completed: bool = False
    #: The language of the whole run (``en``, ``fr``) for flows with ``Flow.one_language``; empty otherwise.
    locale: str = ""

    def to_json(self) -> dict[str, Any]:
        """The state as JSON-ready data (copies of its lists and maps; ``dataclasses.asdict`` deep-copies far slower)."""
        return {
            "id": self.id,
            "tenant": self.tenant,
            "flow": self.flow,
            "browser": self.browser,
            "created_at": self.created_at,
            "user_id": self.user_id,
            "done": list(self.done),
            "passed": list(self.passed),
            "entered": list(self.entered),
            "failures": dict(self.failures),
            "proofs": list(self.proofs),
            "amr": list(self.amr),
            "auth_request": dict(self.auth_request) if self.auth_request is not None else None,
            "data": copy.deepcopy(self.data),
            "completed": self.completed,
            "locale": self.locale,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "FlowState":
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})

    def step_data(self, step: str) -> dict[str, Any]:
        return self.data.setdefault(step, {})

    def has(self, *proofs: str) -> bool:
        return all(p in self.proofs for p in proofs)

    def dumps(self) -> str:
        return json.dumps(self.to_json())


@dataclass(frozen=True)
class StepServices:
    """The port of flow steps and flow hooks: what they may call, and nothing more.

    Never the database, the tenant administration, the OIDC protocol or the HTTP layer: a step works on
    accounts, factors, throttling, the audit trail, messaging and the ephemeral store through these.
    Built once, in the composition root (:func:`idp.services.build_services`); a test hands steps fakes.
    """

    users: "UserService"
    factors: "FactorService"
    throttle: "Throttle"
    audit: "AuditLog"
    locks: "AccountLocks"
    mailer: "Mailer"
    texter: "Texter"
    store: "EphemeralStore"
    secrets: "SecretBox"
    settings: "Settings"


@dataclass
class RunReads:
    """What one request has read about the run's user, shared by every step context of that request.

    The account is read once per request; its active factors once until a step's
    submission (which may change them), so a step's ``configured_for()``, its page and its
    check do not each go back to the database. Nothing here outlives the request.
    """

    user: "User | None" = None
    factors: "UserFactors | None" = None


@dataclass
class StepContext:
    """Everything a step may use: the tenant, the state, the services, the request."""

    tenant: "TenantView"
    state: FlowState
    services: StepServices
    request: RequestInfo
    #: The step's settings as the tenant bound them (the step's ``Config`` instance).
    config: Any = None
    #: The id of the binding being run (the key of its data in the state); empty for flow hooks.
    binding: str = ""
    #: The flow's settings (the flow's ``Config`` instance).
    flow_config: Any = None
    #: This request's reads of the run's user (set by the engine; shared by the request's contexts).
    reads: RunReads = field(default_factory=RunReads)
    #: Who the submission being handled is an attempt against, as :meth:`Step.attempt` named it (an account,
    #: or what the visitor typed when no account matches); set by the engine before ``submit()``.
    subject: Any = None

    @property
    def user(self) -> "User | None":
        """The run's user (``state.user_id``), read at most once per request."""
        user_id = self.state.user_id
        if user_id is None:
            return None
        reads = self.reads
        if reads.user is None or reads.user.id != user_id:
            reads.user = self.services.users.get(self.tenant, user_id)
            reads.factors = None
        return reads.user

    def identified(self, user: "User") -> None:
        """A step that found the run's user (by login) hands the row on, so later steps of this request
        need not read it again; it only counts once the engine records the step's ``Success(user_id=...)``."""
        if self.reads.user is None or self.reads.user.id != user.id:
            self.reads.user = user
            self.reads.factors = None

    @property
    def factors(self) -> "UserFactors | None":
        """The run's user's active factors, read at most once per request until a step submits."""
        user = self.user
        if user is None:
            return None
        reads = self.reads
        if reads.factors is None or reads.factors.user_id != user.id:
            reads.factors = self.services.factors.of_user(self.tenant, user)
        return reads.factors

    @property
    def step_data(self) -> dict[str, Any]:
        """The running binding's own slot in the flow state (what the step keeps between pages)."""
        if not self.binding:
            raise AttributeError("no binding is running: a flow hook reads ctx.state.step_data(binding_id)")
        return self.state.step_data(self.binding)


# -- steps and flows ------------------------------------------------------------


@dataclass(frozen=True)
class Attempts:
    """What the engine does around the submissions of a step that checks a secret (R-06, R-46, R-55, R-83).

    Before ``submit()``: the throttle is asked for the attempt's subject (:meth:`Step.attempt`) under
    ``factor``; a wait refuses the attempt with ``too_many_attempts`` (429) and the step never runs.
    After it: a ``Success`` resets the counters and writes ``ok_event``; a counted ``Failure`` counts a
    failure, writes ``failed_event`` and, when ``notify`` is set and the run has proved the password,
    sends the user the failed-second-factor notice once per step and run (R-55). Every event carries
    ``factor``, the flow, the client address and browser.
    """

    #: The throttle's bucket and the audit events' ``factor``: ``password``, ``totp``, ``sms``...
    factor: str
    #: Written on success (empty: none).
    ok_event: str = "login.second_factor_ok"
    #: Written on every counted failure.
    failed_event: str = "login.second_factor_failed"
    #: A failure after a correct password tells the user (R-55).
    notify: bool = True


def N_(text: str) -> str:
    """Marks a plugin's user-facing text for its own catalog (``bash scripts/catalogs`` extracts ``N_("...")``
    into the package's ``translations/``); the page translates it when it shows it. Returns ``text``."""
    return text


#: The designations a flow may carry (:attr:`Flow.designation`).
LOGIN = "login"
RECOVERY = "recovery"
DESIGNATIONS = (LOGIN, RECOVERY)
#: The designation of a step that proves a second factor the user already has (:attr:`Step.designation`):
#: the tenant's login flow offers every installed one as an alternative (TOTP | SMS | your plugin's).
SECOND_FACTOR = "second-factor"

@dataclass(frozen=True)
class Branch:
    """What a condition may ask of the sub-flow it decides (built by the engine)."""

    #: Whether a step of the sub-flow carrying this designation is configured for the run's user.
    configured: Callable[[str], bool]

    def any_configured(self, designation: str = SECOND_FACTOR) -> bool:
        return self.configured(designation)


#: A named test a flow declares for its ``CONDITIONAL`` sub-flows (:attr:`Flow.conditions`): given the
#: run and the sub-flow, whether the sub-flow runs (e.g. "the policy asks for a second factor now").
Condition = Callable[["StepContext", Branch], bool]


@dataclass(frozen=True)
class NoConfig:
    """For steps and flows without settings."""


class Step:
    """One step of a flow. Subclasses set the class attributes and the two methods."""

    #: Unique within a flow; also the key of the step's slot in :attr:`FlowState.data`.
    name: ClassVar[str] = ""
    #: Proofs the state must hold before this step may run (R-43).
    requires: ClassVar[tuple[str, ...]] = ()
    #: Proofs this step can add on success (checked against flow definitions at load time).
    provides: ClassVar[tuple[str, ...]] = ()
    #: The step's settings, a frozen dataclass built from its binding's ``config``.
    Config: ClassVar[type] = NoConfig
    #: :data:`SECOND_FACTOR` for a step that proves a factor the user has; empty otherwise.
    designation: ClassVar[str] = ""
    #: The button that offers this step from the page of another alternative of its level ("Try another
    #: way", English, ``N_()``-marked), e.g. "Use an SMS code instead"; empty: never offered that way.
    another_way: ClassVar[str] = ""
    #: Steps whose "another way" button this step's own page already shows (the engine leaves them out).
    hands_over: ClassVar[tuple[str, ...]] = ()
    #: Set by a step that checks a secret: the engine throttles, counts, audits and notifies (:class:`Attempts`).
    attempts: ClassVar[Attempts | None] = None
    #: The error ids this step answers with (``Failure("code_replayed")``) that the core does not know, and
    #: their English text marked ``N_()``: the page shows it in the reader's language from the package's catalog.
    errors: ClassVar[Mapping[str, str]] = {}

    def configured_for(self, ctx: StepContext) -> bool:
        """Whether the run's user has what this step checks (Keycloak's ``configuredFor``): an
        ``ALTERNATIVE`` binding of a step not configured for the user is passed over. Default: yes."""
        return True

    @classmethod
    def needs(cls, config: Any) -> tuple[str, ...]:
        """Proofs a run must hold before this step runs under ``config``, whatever its binding says (a
        binding can add proofs, never drop these): e.g. replacing every factor needs the emailed link,
        the password and an SMS code. Default: none beyond :attr:`requires` or the binding's."""
        return ()

    def attempt(self, ctx: StepContext, form: Mapping[str, str]) -> Any:
        """Who this submission tries a secret against (the engine throttles it before ``submit()``), or None
        when it tries none (a "send again" button, an empty form). Default: the run's user."""
        return ctx.user

    def echo(self, ctx: StepContext, form: Mapping[str, str]) -> dict[str, Any]:
        """What the page shows again of a refused submission (never a secret), e.g. the typed username."""
        return {}

    def challenge(self, ctx: StepContext) -> Outcome:  # pragma: no cover - abstract
        raise NotImplementedError

    def submit(self, ctx: StepContext, form: Mapping[str, str]) -> Outcome:  # pragma: no cover - abstract
        raise NotImplementedError


class Flow:
    """A registered authentication flow: the steps it may bind, and its default bindings."""

    #: The registry name (the ``idp.flows`` entry-point name) and the tenant config key.
    name: ClassVar[str] = ""
    #: What the flow's successful end means: ``login`` signs the user in; ``recovery`` does not by itself.
    completes: ClassVar[str] = "login"
    #: The job the core asks a flow for (:data:`DESIGNATIONS`): the tenant's ``login`` flow (the sign-in page
    #: and the authorization endpoint start it), its ``recovery`` flow (« Moyens d'identification perdus ? »).
    #: Empty: a flow reached only by its own links. The core never names a flow; it asks for a designation.
    designation: ClassVar[str] = ""
    #: The steps this flow binds (it ships their pages and catalogs); with the installed step plugins they
    #: make the catalog its bindings name steps from.
    steps: ClassVar[tuple[type[Step], ...]] = ()
    #: The conditions its ``CONDITIONAL`` sub-flows may name (tenants' own bindings pick among these).
    conditions: ClassVar[Mapping[str, Condition]] = {}
    #: Flow-level settings, a frozen dataclass built from the tenant's ``flows.<name>.settings``.
    Config: ClassVar[type] = NoConfig
    #: Proofs that must all be held when the flow completes; checked when a definition loads.
    completion_requires: ClassVar[tuple[str, ...]] = ()
    #: Proofs an out-of-band entry (:meth:`enter`) may grant, e.g. ``email_link``.
    entry_proofs: ClassVar[tuple[str, ...]] = ()
    #: The error that ends a run when every alternative of a level was passed over or stepped aside.
    no_way_through: ClassVar[str] = "no_method_available"
    #: Default for new tenants: on unless a tenant turns it off.
    default_enabled: ClassVar[bool] = False
    #: The flow's own error ids and their English text (as :attr:`Step.errors`).
    errors: ClassVar[Mapping[str, str]] = {}
    #: The flow's name as admins read it in the console (English, marked ``N_()``; shown translated).
    title: ClassVar[str] = ""
    #: Label and hint of each field of :attr:`Config` for the console's settings form (English, ``N_()``);
    #: a field not listed shows its name. The form itself is built from the ``Config`` fields' types.
    setting_words: ClassVar[Mapping[str, tuple[str, str]]] = {}
    #: The run speaks one language: the one of its first page (or the one its entry link carries) is kept
    #: in :attr:`FlowState.locale` for every later page and message of the run (self-recovery, issue 16).
    one_language: ClassVar[bool] = False

    def compatibility(self, tenant: "TenantView", services: StepServices) -> list[str]:
        """Every reason this flow cannot be enabled for ``tenant`` (empty: compatible)."""
        return []

    def bindings(self, config: Any, catalog: Mapping[str, type[Step]]) -> Sequence[Binding]:
        """The flow's default bindings under its settings ``config``, from the installed steps ``catalog``
        (a tenant's ``flows.<name>.bindings`` replaces them). Default: every step of :attr:`steps`, REQUIRED."""
        return tuple(bind(s.name) for s in self.steps)

    #: The login experience a tenant must be on to enable this flow (empty: any).
    requires_experience: ClassVar[str] = ""

    def finish(self, ctx: StepContext) -> Outcome | None:
        """Called once every step has run; may return a final page. Default: nothing."""
        return None

    def signs_in(self, state: FlowState) -> bool:
        """Whether a completed run signs the user in (a new SSO session). Default: login flows do."""
        return self.completes == "login"

    def enter(self, tenant: "TenantView", services: StepServices, params: Mapping[str, str], request: RequestInfo) -> "Entry | Abort | None":
        """Start a run from an out-of-band link (``/flow/<name>/enter``); None: the flow has no such entry."""
        return None
