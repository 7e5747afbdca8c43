"""What the benchmark scripts share: the Markdown table they print (right-aligned columns), and
a store's graphs as ``DGLGraph`` objects, for comparisons with ``dgl.batch``."""


def table(rows: list[list[str]], header: list[str]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    fmt = lambda cells: "| " + " | ".join(c.rjust(w) for c, w in zip(cells, widths)) + " |"  # noqa: E731
    return "\n".join([fmt(header), "|" + "|".join("-" * (w + 2) for w in widths) + "|"] + [fmt(r) for r in rows])


def dgl_graphs(store, dgl) -> list:
    """One ``DGLGraph`` per graph of ``store`` (stored edges), with its node features (integer ones
    widened to int64, as the collater gives them), positions and edge features."""
    import numpy as np
    import torch

    graphs = []
    for g in range(store.n_graph):
        lo, hi = store.edge_ptr[g], store.edge_ptr[g + 1]
        nlo, nhi = store.node_ptr[g], store.node_ptr[g + 1]
        dg = dgl.graph((torch.from_numpy(store.senders[lo:hi].astype(np.int64)),
                        torch.from_numpy(store.receivers[lo:hi].astype(np.int64))), num_nodes=int(store.n_node[g]))
        feat = store.node_features[nlo:nhi]
        dg.ndata["feat"] = torch.from_numpy(feat.astype(np.int64) if feat.dtype.kind in "iu" else feat)
        if store.positions is not None:
            dg.ndata["pos"] = torch.from_numpy(store.positions[nlo:nhi])
        if store.edge_features is not None:
            dg.edata["feat"] = torch.from_numpy(store.edge_features[lo:hi])
        graphs.append(dg)
    return graphs
