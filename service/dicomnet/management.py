"""An administrator's changes to remote nodes and runs, each an event-log entry naming who made it.

The API (:mod:`service.web.pacs`), the page's forms and ``doseledger pacs``
make every change through these functions, so the event log says the same
whichever way it came: ``pacs-node-added``, ``pacs-node-deleted``,
``pacs-run-started`` (a run started by a person; the nightly run is told by its
trigger) and ``pacs-run-cancelled`` (``outcome`` ``cancelled`` when no process
ran it, ``requested`` when its process stops it before its next request), with
``via`` and ``client`` of who did it and ``details.pacs`` naming the node (and run).
"""

from __future__ import annotations

from typing import Any

from service.dicomnet.association import echo
from service.dicomnet.nodes import Node
from service.errors import Conflict
from service.storage import Store, utcnow


def _log(store: Store, type: str, message: str, *, via: str, client: str, outcome: str, **pacs: str) -> None:
    """Write one change to the event log."""
    store.append_event(type, via=via, client=client, outcome=outcome, message=message, details={"pacs": pacs})


def add_node(store: Store, node: Node, *, via: str, client: str) -> None:
    """Add a node; raise :class:`Conflict` when its name is taken."""
    store.add_pacs_node(node.as_document())
    way = f"C-MOVE to {node.move_destination or 'its own AE title'}" if node.retrieve == "move" else "C-GET"
    message = f"PACS node {node.address} added by {client}, retrieving by {way}."
    _log(store, "pacs-node-added", message, via=via, client=client, outcome="done", node=node.name)


def delete_node(store: Store, name: str, *, via: str, client: str) -> None:
    """Delete a node (its runs stay listed); raise NotFound, or Conflict while it has a run under way."""
    node = Node.from_document(store.pacs_node(name))
    if (active := store.active_run(name)) is not None:
        raise Conflict(f"PACS node {name!r} has run {active['_id']} under way; cancel it first.")
    store.delete_pacs_node(name)
    message = f"PACS node {node.address} deleted by {client}; its runs stay listed."
    _log(store, "pacs-node-deleted", message, via=via, client=client, outcome="done", node=name)


def echo_message(node: Node, seconds: float) -> str:
    """Say that a node answered a C-ECHO, and how fast."""
    return f"{node.address} answered the C-ECHO in {seconds * 1000:.0f} ms."


def echo_node(store: Store, name: str, calling_ae_title: str, timeout: float) -> tuple[Node, float]:
    """Send a C-ECHO to a stored node; return it and the seconds it took (PacsError says why it failed)."""
    node = Node.from_document(store.pacs_node(name))
    return node, echo(node, calling_ae_title, timeout)


def run_started(store: Store, run: dict[str, Any], *, via: str) -> None:
    """Log that someone (the run's ``client``) started a run."""
    criteria = run["criteria"]
    message = (
        f"Run {run['_id']} of PACS node {run['node']} started by {run['client']}: "
        f"studies of {criteria['date_from']} to {criteria['date_to']}, {', '.join(criteria['modalities'])}."
    )
    _log(
        store, "pacs-run-started", message, via=via, client=run["client"], outcome="queued",
        node=run["node"], run=str(run["_id"]),
    )  # fmt: skip


def cancel_run(store: Store, run_id: str, *, via: str, client: str) -> dict[str, Any]:
    """Cancel a run (Conflict when it has ended); log who did; return the run as it is now."""
    run = store.request_cancel(run_id, utcnow())
    if run["status"] == "cancelled":
        outcome, message = "cancelled", f"Run {run_id} cancelled by {client} (no process was running it)."
    else:
        outcome = "requested"
        message = f"Run {run_id} asked to stop by {client}; its process stops it before its next request."
    _log(store, "pacs-run-cancelled", message, via=via, client=client, outcome=outcome, node=run["node"], run=run_id)
    return run
