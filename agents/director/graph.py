"""Wiring only: the director's nodes and routers as a LangGraph ``StateGraph``.

render:   plan -> prepare -> render -> extract -> critique -> (apply_verdict -> prepare | update_memory)
               -> update_memory -> (prepare | assemble)
revision: propose -> review (interrupt) -> commit -> plan -> ... (the same loop; unchanged shots reused)
"""

from __future__ import annotations

from langgraph.graph import END, START, StateGraph

from agents.director import routes
from agents.director.nodes import DirectorNodes
from agents.director.revision import RevisionNodes
from agents.director.state import DirectorState


def build_graph(nodes: DirectorNodes, revision: RevisionNodes, checkpointer=None):
    g = StateGraph(DirectorState)
    g.add_node("propose", revision.propose)
    g.add_node("review", revision.review)
    g.add_node("commit", revision.commit)
    g.add_node("plan", nodes.plan)
    g.add_node("prepare", nodes.prepare)
    g.add_node("render", nodes.render)
    g.add_node("extract", nodes.extract)
    g.add_node("critique", nodes.critique)
    g.add_node("apply_verdict", nodes.apply_verdict)
    g.add_node("update_memory", nodes.update_memory)
    g.add_node("assemble", nodes.assemble)

    g.add_conditional_edges(START, routes.start)
    g.add_edge("propose", "review")
    g.add_conditional_edges("review", routes.after_review)
    g.add_edge("commit", "plan")
    g.add_conditional_edges("plan", routes.after_memory)
    g.add_conditional_edges("prepare", routes.after_prepare)
    g.add_edge("render", "extract")
    g.add_edge("extract", "critique")
    g.add_conditional_edges("critique", routes.after_critique)
    g.add_edge("apply_verdict", "prepare")
    g.add_conditional_edges("update_memory", routes.after_memory)
    g.add_edge("assemble", END)
    return g.compile(checkpointer=checkpointer)
