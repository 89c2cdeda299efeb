"""Why an SSH connection failed, layer by layer, in plain words.

Layers, in the order a connection walks them: dns -> tcp -> banner -> kex -> host_key ->
auth -> shell. When asyncssh reports a failure, the cheap probes here re-walk the first
layers so the message names exactly where it broke (a refused port is not a firewall).
"""

from __future__ import annotations

import asyncio
import errno
import socket
from typing import TYPE_CHECKING

import asyncssh

from ctrlops.errors import ConnectionFailed

if TYPE_CHECKING:
    from ctrlops.remote.ssh import SSHTarget

LAYERS = ("dns", "tcp", "banner", "kex", "host_key", "auth", "shell", "facts")

_FIREWALL = {
    "aws": "the instance's security group must allow inbound TCP {port} from your address "
    "(EC2 console -> Security Groups -> Inbound rules), and the subnet's network ACL too",
    "gcp": "a VPC firewall rule must allow ingress TCP {port} from your address "
    "(gcloud compute firewall-rules list)",
    "azure": "the VM's network security group must have an inbound rule allowing TCP {port} "
    "(Azure portal -> VM -> Networking)",
    "digitalocean": "the droplet's cloud firewall must allow inbound TCP {port} "
    "(Networking -> Firewalls), and ufw on the droplet too",
}


def guess_cloud(host: str, user: str | None, known: str | None) -> str | None:
    """Return the cloud the host probably lives in: facts seen earlier, else name hints."""
    if known:
        return known
    h = host.lower()
    if h.endswith(".amazonaws.com") or h.startswith("ec2-"):
        return "aws"
    if h.endswith(".googleusercontent.com"):
        return "gcp"
    if h.endswith(".cloudapp.azure.com") or h.endswith(".azure.com"):
        return "azure"
    if user in ("ec2-user",):
        return "aws"
    if user in ("azureuser",):
        return "azure"
    return None


def firewall_hint(cloud: str | None, port: int) -> str:
    if cloud in _FIREWALL:
        return _FIREWALL[cloud].format(port=port)
    return (
        f"a firewall is dropping TCP {port}: on AWS check the security group, on GCP the VPC "
        "firewall rules, on Azure the network security group, on DigitalOcean the cloud "
        "firewall; on the server itself ufw/firewalld/iptables"
    )


def key_import_failed(key_path: str | None, e: asyncssh.KeyImportError) -> ConnectionFailed:
    what = key_path or "a key from ~/.ssh"
    if "passphrase" in str(e).lower():
        return ConnectionFailed(
            "auth",
            f"the key {what} is encrypted and no passphrase was given",
            f"load it into ssh-agent (`ssh-add {what}`) and omit --key, or set "
            "CTRLOPS_SSH_PASSPHRASE, or run the command in a terminal to be asked for it",
            category="passphrase_needed",
        )
    return ConnectionFailed(
        "auth",
        f"the key {what} cannot be read as a private key: {e}",
        "give the PRIVATE key (not the .pub file) in OpenSSH or PEM format",
        category="key_invalid",
    )


async def host_key_changed(name: str, host: str, port: int, target: SSHTarget) -> ConnectionFailed:
    from ctrlops.remote.ssh import fingerprint

    old = fingerprint(target.host_key) if target.host_key else "(none)"
    try:
        offered = await asyncio.wait_for(
            asyncssh.get_server_host_key(host, port, tunnel=target.jump or ()), target.timeout
        )
        new = offered.get_fingerprint("sha256") if offered else "(unknown)"
    except (asyncssh.Error, OSError, TimeoutError):
        new = "(could not be read)"
    return ConnectionFailed(
        "host_key",
        f"the host key of {host}:{port} has changed: ctrlops pinned {old}, the server now "
        f"offers {new}. Someone may be intercepting the connection, or the server was "
        "reinstalled",
        f"confirm the new fingerprint with the server's owner (on the server: "
        f"`ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub`), then accept it deliberately: "
        f"`ctrlops server trust {name} --fingerprint {new}`",
        category="host_key_changed",
    )


async def probe_dns(host: str, port: int, timeout: float) -> list[str]:
    """Return the addresses ``host`` resolves to; raises ConnectionFailed(dns)."""
    loop = asyncio.get_running_loop()
    try:
        infos = await asyncio.wait_for(
            loop.getaddrinfo(host, port, type=socket.SOCK_STREAM), timeout
        )
    except socket.gaierror as e:
        raise dns_failed(host, e) from None
    except TimeoutError:
        raise ConnectionFailed(
            "dns",
            f"looking up {host} took longer than {timeout:g} s",
            "the DNS resolver of this machine is not answering; check /etc/resolv.conf or "
            "use the server's IP address",
            category="dns",
        ) from None
    return sorted({str(info[4][0]) for info in infos})


def dns_failed(host: str, e: socket.gaierror) -> ConnectionFailed:
    if e.errno in (socket.EAI_NONAME, getattr(socket, "EAI_NODATA", -5)):
        cause = f"the name {host} does not exist in DNS ({e.strerror})"
        fix = (
            "check the spelling of the host name, or use the server's IP address; "
            "a new DNS record can take minutes to appear"
        )
    else:
        cause = f"the name {host} could not be looked up: {e.strerror}"
        fix = "this machine's DNS resolver is not answering; check /etc/resolv.conf or use an IP"
    return ConnectionFailed("dns", cause, fix, category="dns")


async def probe_tcp_banner(
    host: str, addr: str, port: int, timeout: float, cloud: str | None
) -> None:
    """Open TCP to ``addr`` and read the SSH banner; raises ConnectionFailed(tcp|banner)."""
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(addr, port), timeout)
    except ConnectionRefusedError:
        raise ConnectionFailed(
            "tcp",
            f"{host} ({addr}) refused the connection on port {port}: the machine is up but "
            "nothing listens there",
            "check the port (--port; SSH is usually 22) and that sshd runs on the server "
            "(`systemctl status ssh`); a firewall that rejects (not drops) looks the same",
            category="conn_refused",
        ) from None
    except TimeoutError:
        raise ConnectionFailed(
            "tcp",
            f"no answer from {host} ({addr}) on port {port} within {timeout:g} s: packets are "
            "being dropped, or the machine is off",
            firewall_hint(cloud, port) + "; also check that the instance is running and has "
            "a public address",
            category="timeout",
        ) from None
    except OSError as e:
        unreachable = e.errno in (errno.EHOSTUNREACH, errno.ENETUNREACH)
        raise ConnectionFailed(
            "tcp",
            f"{host} ({addr}) is unreachable: {e.strerror}",
            "there is no route to that address from here: check the address, VPN, or that "
            "the server has a public IP"
            if unreachable
            else firewall_hint(cloud, port),
            category="unreachable" if unreachable else "tcp",
        ) from None
    try:
        line = await asyncio.wait_for(reader.readline(), timeout)
    except (TimeoutError, OSError):
        line = None
    finally:
        writer.close()
    if line is None:
        raise ConnectionFailed(
            "banner",
            f"{host}:{port} accepted the connection but sent no SSH greeting within {timeout:g} s",
            "the port may belong to another service that waits for the client to speak (e.g. "
            "HTTPS), or sshd is overloaded (MaxStartups) or hung; check the port",
            category="not_ssh",
        )
    if not line.startswith(b"SSH-"):
        said = line[:60].decode("ascii", "replace").strip() or "(an empty line)"
        raise ConnectionFailed(
            "banner",
            f"{host}:{port} is not an SSH server: it answered {said!r}",
            "check the port: SSH is usually 22; this one belongs to another service",
            category="not_ssh",
        )


async def connect_failed(
    host: str, port: int, target: SSHTarget, e: BaseException
) -> ConnectionFailed:
    """Name the layer behind an asyncssh/OS failure, re-probing the early layers."""
    if isinstance(e, socket.gaierror):
        return dns_failed(host, e)
    if isinstance(e, asyncssh.PermissionDenied):
        user = target.user or "(your default user)"
        return ConnectionFailed(
            "auth",
            f"{host} refused the login of user {user!r} with the key(s) offered"
            + (f" ({target.key_path})" if target.key_path else " (ssh-agent / ~/.ssh)"),
            "check the user name (Ubuntu images use 'ubuntu', Amazon Linux 'ec2-user', Debian "
            "'admin', Azure 'azureuser', DigitalOcean 'root') and that the public key is in "
            "~/.ssh/authorized_keys of that user on the server; ctrlops logs in with keys only, "
            "never with a password",
            category="auth_refused",
        )
    if isinstance(e, asyncssh.KeyExchangeFailed):
        return ConnectionFailed(
            "kex",
            f"{host}:{port} and ctrlops share no key exchange algorithm: {e.reason}",
            "the server's OpenSSH is very old or restricted (KexAlgorithms in sshd_config); "
            "update it or allow a modern algorithm such as curve25519-sha256",
            category="kex",
        )
    if target.jump:
        return ConnectionFailed(
            "tcp",
            f"could not reach {host}:{port} through the jump host {target.jump}: {e}",
            "check the jump host first: `ssh -J` to it by hand, then from it to the server",
            category="jump",
        )
    cloud = guess_cloud(host, target.user, target.cloud)
    addrs = await probe_dns(host, port, target.timeout)
    await probe_tcp_banner(host, addrs[0], port, target.timeout, cloud)
    if isinstance(e, TimeoutError):
        return ConnectionFailed(
            "kex",
            f"{host}:{port} greeted as SSH but the handshake did not finish in time",
            "the server is overloaded or a middlebox interferes; try again, check the load",
            category="timeout",
        )
    return ConnectionFailed(
        "kex",
        f"the SSH handshake with {host}:{port} failed: {e}",
        "run `ssh -vvv` to the same host for details",
        category="kex",
    )
