"""The built-in chisels, registered through the same plugin hook a third-party chisel package uses."""

from chisel.plugins import hookimpl

from chisel.chisels.echo_fds import EchoFds
from chisel.chisels.netconns import NetConns
from chisel.chisels.spy_users import SpyUsers
from chisel.chisels.topfiles import TopFiles, TopFilesErrors, TopFilesTime

BUILTIN_CHISELS = (EchoFds, TopFiles, TopFilesTime, TopFilesErrors, SpyUsers, NetConns)


@hookimpl
def chisel_register_chisels():
    return list(BUILTIN_CHISELS)
