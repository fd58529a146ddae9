"""``ioc provision``: broker accounts for gateways and services, the ACL, and TLS material.

Every change rewrites Mosquitto's password file and ACL in the provisioning
folder and reloads a running broker (see :mod:`ioc.provision.accounts`).
"""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("provision", help="broker accounts, ACL and TLS for gateways and services")
    p.add_argument("--dir", type=Path, default=Path("provision"),
                   help="provisioning folder (default: ./provision)")
    p.add_argument("--pid", type=int, default=None,
                   help="mosquitto to reload (default: the pid file ioc.conf names)")
    p.add_argument("--plain-port", type=int, default=1883, help="ioc.conf: loopback listener")
    p.add_argument("--tls-port", type=int, default=8883, help="ioc.conf: TLS listener")
    verbs = p.add_subparsers(dest="verb", metavar="VERB", required=True)
    a = verbs.add_parser("add", help="register a gateway and create its broker account")
    a.add_argument("device")
    a.add_argument("--site", required=True)
    a.add_argument("--kind", choices=("sensor", "camera"), required=True,
                   help="gateway kind: decides which event kinds it may publish")
    a.add_argument("--read", action="append", default=[], metavar="TOPIC",
                   help="another topic it may read (e.g. its signal controller's); repeatable")
    a.add_argument("--rotate", action="store_true", help="give an existing device a new password")
    a.set_defaults(func=add)
    s = verbs.add_parser("service", help="the account of the stream, the cloud or a monitor")
    s.add_argument("role", choices=("stream", "cloud", "monitor"))
    s.add_argument("--site", action="append", required=True, help="site(s) it serves")
    s.add_argument("--rotate", action="store_true")
    s.set_defaults(func=service)
    r = verbs.add_parser("revoke", help="lock an account out (and disconnect it)")
    r.add_argument("name")
    r.set_defaults(func=revoke)
    ls = verbs.add_parser("list", help="every account with its state")
    ls.set_defaults(func=list_accounts)
    acl = verbs.add_parser("acl", help="print what each account may read and write")
    acl.set_defaults(func=show_acl)
    t = verbs.add_parser("tls", help="a local CA and a broker certificate (openssl)")
    t.add_argument("--host", action="append", default=None,
                   help="name or address gateways reach the broker by (repeatable; "
                        "default: localhost and 127.0.0.1)")
    t.add_argument("--days", type=int, default=825)
    t.set_defaults(func=tls)


def _provisioner(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from ioc.provision.accounts import Provisioner
    from ioc.provision.registry import ProvisionError

    if args.dir.exists() and not args.dir.is_dir():
        raise ProvisionError(f"--dir {args.dir} is a file, not a folder")
    return Provisioner(args.dir, plain_port=args.plain_port, tls_port=args.tls_port)


def _report_reload(prov, pid: int | None) -> None:  # type: ignore[no-untyped-def]
    done = prov.reload(pid)
    if done is None:
        print(f"broker files written in {prov.passwd_path.parent}; no running mosquitto "
              f"found: start it with -c {prov.conf_path}")
    else:
        print(f"mosquitto (pid {done}) reloaded")


def _run(args: argparse.Namespace, action) -> int:  # type: ignore[no-untyped-def]
    from pydantic import ValidationError

    from ioc.config import ConfigError
    from ioc.provision.registry import ProvisionError
    from ioc.provision.tls import TlsError

    try:
        return int(action() or 0)
    except (ProvisionError, ConfigError, TlsError) as exc:
        print(f"ioc provision {args.verb}: {exc}")
        return 1
    except ValidationError as exc:  # a --site or --read the account model refuses
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['input']!r}:"
                             f" {e['msg']}" for e in exc.errors(include_url=False))
        print(f"ioc provision {args.verb}: {problems}")
        return 1
    except OSError as exc:
        print(f"ioc provision {args.verb}: {exc.filename or args.dir}: {exc.strerror or exc}")
        return 1


def add(args: argparse.Namespace) -> int:
    def act() -> int:
        prov = _provisioner(args)
        creds = prov.add_device(args.device, site=args.site, gateway=args.kind,
                                extra_read=args.read, rotate=args.rotate)
        print(f"{creds.name}: account {'rotated' if args.rotate else 'created'}; credentials "
              f"in {creds.env_file} (mode 0600): copy to the gateway, then delete here")
        _report_reload(prov, args.pid)
        return 0
    return _run(args, act)


def service(args: argparse.Namespace) -> int:
    def act() -> int:
        prov = _provisioner(args)
        creds = prov.add_service(args.role, sites=args.site, rotate=args.rotate)
        print(f"{creds.name}: service account for {', '.join(sorted(set(args.site)))}; "
              f"credentials in {creds.env_file} (mode 0600)")
        _report_reload(prov, args.pid)
        return 0
    return _run(args, act)


def revoke(args: argparse.Namespace) -> int:
    def act() -> int:
        prov = _provisioner(args)
        account = prov.revoke(args.name)
        print(f"{args.name}: revoked at {account.revoked.isoformat() if account.revoked else ''}")
        _report_reload(prov, args.pid)
        return 0
    return _run(args, act)


def list_accounts(args: argparse.Namespace) -> int:
    def act() -> int:
        registry = _provisioner(args).registry()
        rows = [("NAME", "ROLE", "KIND", "SITES", "STATE", "CREATED", "REVOKED")]
        for name, a in sorted(registry.accounts.items()):
            rows.append((name, a.role, a.gateway or "-", ",".join(a.sites),
                         "active" if a.active else "revoked", a.created.isoformat(),
                         a.revoked.isoformat() if a.revoked else "-"))
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        for row in rows:
            print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
        return 0
    return _run(args, act)


def show_acl(args: argparse.Namespace) -> int:
    def act() -> int:
        from ioc.provision.acl import rights

        registry = _provisioner(args).registry()
        for name, account in registry.active().items():
            print(f"{name} ({account.role})")
            for access, topic in rights(name, account, registry):
                print(f"  {access:5}  {topic}")
        return 0
    return _run(args, act)


def tls(args: argparse.Namespace) -> int:
    def act() -> int:
        from ioc.provision.tls import make_server_cert

        prov = _provisioner(args)
        files = make_server_cert(prov.tls_dir, args.host or ["localhost", "127.0.0.1"],
                                 days=args.days)
        prov.write_broker_files()
        print(f"CA {files.ca_cert} (give this one to gateways), broker certificate "
              f"{files.server_cert}; TLS listener on port {args.tls_port} in {prov.conf_path}")
        return 0
    return _run(args, act)
