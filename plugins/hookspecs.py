"""Hook specifications of the pluggy project `chisel`.

Hooks cover the lifecycle only (registration, configuration, session start and end); per-event calls
go straight to chisel methods. Hooks are always called with keyword arguments, so an implementation may
take fewer parameters than its spec and specs can grow without breaking plugins.
"""

import pluggy

PROJECT = "chisel"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


# -- registration ---------------------------------------------------------------------------------


@hookspec
def chisel_register_chisels():
    """The chisel classes this plugin provides.

    :return: a list of `chisel.plugins.Chisel` subclasses (None or [] for none).
    Built-in chisels register through this hook exactly like third-party ones.
    """


@hookspec
def chisel_register_fields(registry):
    """Add filter fields to the field registry.

    :param registry: the `chisel.core.fields.FieldRegistry`; call its registration method with
        `FieldDef`s (name, type, extractor, doc). Called once, before any filter is compiled.
    """


# -- command line and settings --------------------------------------------------------------------


@hookspec(historic=True)
def chisel_add_options(parser):
    """Add global command-line options.

    :param parser: the `argparse.ArgumentParser` of the `chisel` command. Historic: a plugin that
        registers late still sees the call.
    """


@hookspec
def chisel_configure(config):
    """Validate settings before the capture starts.

    :param config: the run's `chisel.core.config.RunConfig` (parsed options and the settings file).
    Raise `chisel.core.errors.UsageError` on a bad setting; return nothing.
    """


# -- output ---------------------------------------------------------------------------------------


@hookspec(firstresult=True)
def chisel_get_renderer(format):
    """An output renderer for `format` beyond text and json.

    :param format: the output format name the user asked for.
    :return: a renderer object, or None when this plugin does not know `format` (first answer wins).
    """


@hookspec
def chisel_report_header(session):
    """Banner lines printed on stderr before a live run (kernel, filter, plugins with versions).

    :param session: the running `chisel.core.session.Session`.
    :return: a list of strings (one per line), or None.
    """


# -- session observers ----------------------------------------------------------------------------


@hookspec
def chisel_session_start(session):
    """Notified once the source is open and chisels are set up, before the first event.

    :param session: the running `chisel.core.session.Session`.
    """


@hookspec
def chisel_session_end(session, stats):
    """Notified after the end reports.

    :param session: the finished `chisel.core.session.Session`.
    :param stats: a namespace with `events`, `drops`, `first_ts`, `last_ts`, `live`.
    """
