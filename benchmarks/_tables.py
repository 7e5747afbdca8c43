"""What the benchmark scripts share: the Markdown table they print (right-aligned columns), and
a store's graphs as ``DGLGraph`` objects, for comparisons with ``dgl.batch``."""


def table(rows: list[list[str]], header: list[str]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    def fmt(cells):
        return "| " + " | ".join(c.rjust(w) for c, w in zip(cells, widths)) + " |"
    return "\n".join([fmt(header), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
                     + [fmt(r) for r in rows])


def dgl_graphs(store) -> list:
    """One ``DGLGraph`` per graph of ``store``, with its node features, positions and edge features
    (bench_lib's :func:`~bench_lib.strategies.interop.dgl_graphs`, without the labels)."""
    from bench_lib.strategies.interop import dgl_graphs as pairs

    return [g for g, _ in pairs(store)]
