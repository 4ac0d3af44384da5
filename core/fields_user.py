"""The `user.*` and `group.*` fields: the event thread's uid/gid and their names.

Names come from the bound state's `users` {uid: UserInfo} and `groups` {gid: GroupInfo} tables
(the capture's user list or the live /etc/passwd scan); an unknown id has no name (<NA>).
"""

from .fields_base import BOUND, FieldDef


def _user(uid):
    state = BOUND.state
    return None if state is None or uid is None else state.users.get(uid)


def _group(gid):
    state = BOUND.state
    return None if state is None or gid is None else state.groups.get(gid)


def _id(attr):
    def extract(ev):
        th = ev.thread
        return None if th is None else getattr(th, attr)
    return extract


def _user_attr(id_attr, attr):
    def extract(ev):
        th = ev.thread
        if th is None:
            return None
        user = _user(getattr(th, id_attr))
        return None if user is None else getattr(user, attr)
    return extract


def _loginuid(ev):
    """The audit uid as sysdig shows it: a signed 32-bit number (unset is -1)."""
    th = ev.thread
    if th is None:
        return None
    v = th.loginuid & 0xFFFFFFFF
    return v - (1 << 32) if v >= 1 << 31 else v


def _group_name(ev):
    th = ev.thread
    if th is None:
        return None
    group = _group(th.gid)
    return None if group is None else group.name


FIELDS = (
    FieldDef("user.uid", "UINT32", "user id of the thread", _id("uid"), cls="user",
             inline=("thread", "uid", int)),
    FieldDef("user.name", "CHARBUF", "user name", _user_attr("uid", "name"), cls="user"),
    FieldDef("user.homedir", "CHARBUF", "home directory of the user",
             _user_attr("uid", "homedir"), cls="user"),
    FieldDef("user.shell", "CHARBUF", "login shell of the user", _user_attr("uid", "shell"),
             cls="user"),
    FieldDef("user.loginuid", "INT32", "audit (login) user id; -1 when unset", _loginuid,
             cls="user"),
    FieldDef("user.loginname", "CHARBUF", "name of the audit (login) user",
             _user_attr("loginuid", "name"), cls="user"),
    FieldDef("group.gid", "UINT64", "group id of the thread", _id("gid"), cls="group",
             inline=("thread", "gid", int)),
    FieldDef("group.name", "CHARBUF", "group name", _group_name, cls="group"),
)

CLASS_DOCS = {"user": "The user running the thread.", "group": "The group of the thread."}
