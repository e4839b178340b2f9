"""Joining a Ray cluster in the cluster's own authentication mode.

Ray's client picks its mode from the environment (RAY_AUTH_MODE, or token mode whenever a
token file exists), not from the cluster, and a mismatch either way ends in cancelled
actors. So before the first `ray.init`, garay asks the cluster's GCS directly, with a
plain gRPC call of its own (no Ray client, which cannot switch modes once connected):
a GCS with token authentication answers UNAUTHENTICATED to a call without a token (and
to one with a wrong token); one without answers every call.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from garay.errors import ConfigError

log = logging.getLogger(__name__)

MODE_VAR = "RAY_AUTH_MODE"
PROBE_TIMEOUT_S = 10.0


def token_path() -> Path:
    return Path(os.environ.get("RAY_AUTH_TOKEN_PATH") or Path.home() / ".ray" / "auth_token")


def find_token() -> tuple[Optional[str], Optional[str]]:
    """(the token, where it came from) as Ray looks for one: RAY_AUTH_TOKEN, then the file
    RAY_AUTH_TOKEN_PATH names, then ~/.ray/auth_token; (None, None) when there is none."""
    if os.environ.get("RAY_AUTH_TOKEN"):
        return os.environ["RAY_AUTH_TOKEN"].strip(), "RAY_AUTH_TOKEN"
    path = token_path()
    try:
        text = path.read_text().strip()
    except OSError:
        return None, None
    return (text, str(path)) if text else (None, None)


def gcs_address(address: str) -> Optional[str]:
    """The GCS host:port that `address` (auto, host:port) names; None for Ray Client
    (ray://), whose server is not the GCS, or when it cannot be found."""
    if address.startswith("ray://"):
        return None
    try:
        from ray._private.services import canonicalize_bootstrap_address

        return canonicalize_bootstrap_address(address)
    except Exception:  # noqa: BLE001 - `auto` with no cluster: ray.init says so in its own words
        return None


def probe(gcs: str, token: Optional[str] = None, timeout_s: float = PROBE_TIMEOUT_S) -> Optional[bool]:
    """Whether the GCS at `gcs` accepts a call (with `token`, or none): True, False
    (UNAUTHENTICATED), or None when it cannot be asked (unreachable, not a GCS)."""
    import grpc
    from ray.core.generated import gcs_service_pb2, gcs_service_pb2_grpc

    metadata = [("authorization", f"Bearer {token}")] if token else None
    channel = grpc.insecure_channel(gcs)
    try:
        stub = gcs_service_pb2_grpc.NodeInfoGcsServiceStub(channel)
        stub.GetClusterId(gcs_service_pb2.GetClusterIdRequest(), timeout=timeout_s, metadata=metadata)
        return True
    except grpc.RpcError as exc:
        if exc.code() == grpc.StatusCode.UNAUTHENTICATED:
            return False
        log.debug("could not ask %s for its authentication mode: %s", gcs, exc.code())
        return None
    finally:
        channel.close()


@dataclass(frozen=True)
class JoinMode:
    """How garay joins: `mode` (token | disabled; None: not found out, Ray's own rule
    applies) and where the token came from (token mode)."""

    mode: Optional[str]
    token_source: Optional[str] = None


def cluster_mode(address: str) -> JoinMode:
    """The cluster's authentication mode, found out by asking its GCS. Raises ConfigError
    (cluster.address) when it uses tokens and none is at hand, or refuses the one there is."""
    gcs = gcs_address(address)
    if gcs is None:
        return JoinMode(None)
    open_door = probe(gcs)
    if open_door is None:
        return JoinMode(None)
    if open_door:
        return JoinMode("disabled")
    token, source = find_token()
    if token is None:
        raise ConfigError("cluster.address", f"the cluster at {gcs} uses token authentication and no token is at hand: "
                                             "set RAY_AUTH_TOKEN, or RAY_AUTH_TOKEN_PATH to the cluster's token file, "
                                             "or copy it to ~/.ray/auth_token")
    if probe(gcs, token) is False:
        raise ConfigError("cluster.address", f"the cluster at {gcs} refuses the token from {source} (token "
                                             "authentication): use the token the cluster was started with")
    return JoinMode("token", source)


def use_mode(mode: Optional[str]) -> Optional[str]:
    """Set this process's RAY_AUTH_MODE to `mode` (None: remove it) and have Ray read it
    again; return the value it had, to restore afterwards."""
    before = os.environ.get(MODE_VAR)
    if mode is None:
        os.environ.pop(MODE_VAR, None)
    else:
        os.environ[MODE_VAR] = mode
    try:  # Ray caches its config: re-read it, as Ray itself does when it enables tokens
        from ray._raylet import Config

        Config.initialize("")
    except Exception:  # noqa: BLE001 - an older Ray without the cached config reads the environment
        pass
    return before
