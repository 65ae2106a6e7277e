"""The browser login flow (being written)."""

from idp.flowengine.contract import Flow, Step


class _Placeholder(Step):
    name = "identify"


class BrowserLoginFlow(Flow):
    name = "browser-login"
    steps = (_Placeholder,)
