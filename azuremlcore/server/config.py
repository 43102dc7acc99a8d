"""Server settings: where the data lives and what the server accepts."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


# Device-code sign-ins are rare (a person at a keyboard); token requests include a device's polling
# (one a second while it waits) and service principals renewing tokens.
DEFAULT_RATE_LIMITS: dict[str, tuple[int, float]] = {"devicecode": (5, 10.0), "token": (30, 120.0),
                                                     "device_page": (10, 20.0), "login": (10, 20.0)}


@dataclass
class ServerConfig:
    """Settings of one `aml server`.

    `data_dir` holds the SQLite database (unless `db_url` names another), the artifact root
    (unless `artifact_root` is given) and the token-signing keys. `azure_tenant` turns on
    acceptance of Azure AD tokens of that tenant (audience `azure_audience`). `rate_limits` bound the
    public routes per client address: name -> (burst, requests per minute). `lease_sweep_s` is how
    often the server looks for runs whose runner stopped renewing its lease (they are marked Failed).
    `ray_address` (a Ray dashboard URL) sends the runs of AmlCompute clusters to that Ray cluster.
    `open_access` serves everyone as Owner without sign-in: only for `aml studio` on 127.0.0.1.
    `/health`, the MLflow tracking API and the workspace API (the SDK's and `aml`'s calls) answer as soon
    as the server listens, without FastAPI; the rest (web view, registry, issuer, `/openapi.json`) is built
    at its first request (`api_on_first_use`, the default: that request waits about 0.3 s, and an idle
    server holds about 10 MiB less), or with `api_on_first_use=False` in a thread at the first quiet moment.
    `write_behind` answers MLflow's metric-only `log-metric` and `log-batch` calls once they are
    validated and journaled in the data dir, and stores them right after (see `server._ingest`).
    """

    data_dir: Path
    db_url: str | None = None
    artifact_root: Path | None = None
    max_json_bytes: int = 16 << 20
    token_lifetime_s: int = 3600
    run_token_lifetime_s: int = 4 * 3600
    azure_tenant: str | None = None
    azure_audience: str = "https://ml.azure.com"
    azure_authority_host: str = "https://login.microsoftonline.com"
    extra: dict[str, str] = field(default_factory=dict)
    rate_limits: dict[str, tuple[int, float]] = field(default_factory=lambda: dict(DEFAULT_RATE_LIMITS))
    max_pending_device_codes: int = 1000
    lease_sweep_s: float = 15.0
    # A Ray cluster's dashboard URL: runs on this server's AmlCompute clusters become Ray jobs there.
    ray_address: str | None = None
    open_access: bool = False
    api_on_first_use: bool = True
    write_behind: bool = True

    def __post_init__(self) -> None:
        self.data_dir = Path(self.data_dir).expanduser().resolve()
        if self.artifact_root is not None:
            self.artifact_root = Path(self.artifact_root).expanduser().resolve()

    @property
    def database_url(self) -> str:
        """The SQLAlchemy URL of the workspace database."""
        url = self.db_url or f"sqlite:///{self.data_dir / 'workspaces.db'}"
        if url.startswith(("postgresql://", "postgres://")):
            # Plain postgresql:// means psycopg2 to SQLAlchemy; the server ships with psycopg 3.
            url = "postgresql+psycopg://" + url.split("://", 1)[1]
        return url

    @property
    def artifacts_dir(self) -> Path:
        """The folder artifacts are stored under."""
        return self.artifact_root or self.data_dir / "artifacts"
