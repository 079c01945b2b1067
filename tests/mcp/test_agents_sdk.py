"""The OpenAI Agents SDK's MCP client (`MCPServerStreamableHttp`), configured as
`docs/mcp.md` shows, against the real server: an agent lists `/mcp`'s tools and calls `search`
and `fetch` through it. A scripted model stands in for the LLM, so no OpenAI account is needed:
it asks for the tools the way a model does, and answers with what they returned."""

import asyncio
import json

from agents import Agent, Runner, set_tracing_disabled
from agents.items import ModelResponse
from agents.mcp import MCPServerStreamableHttp
from agents.models.interface import Model
from agents.usage import Usage
from openai.types.responses import ResponseFunctionToolCall, ResponseOutputMessage, ResponseOutputText

set_tracing_disabled(True)


def tool_outputs(items) -> list[dict]:
    """The results of the tool calls so far, as the tools returned them."""
    if isinstance(items, str):
        return []
    found = []
    for item in items:
        item = item if isinstance(item, dict) else item.model_dump()
        if item.get("type") == "function_call_output":
            output = item["output"]
            text = output if isinstance(output, str) else output[0]["text"]
            found.append(json.loads(text))
    return found


class ResearchScript(Model):
    """Searches, fetches the first result, and answers with the text of it."""

    def __init__(self, query: str):
        self.query = query
        self.tools_seen: list[str] = []

    def _call(self, name: str, args: dict) -> ModelResponse:
        call = ResponseFunctionToolCall(type="function_call", call_id=f"call_{name}", name=name,
                                        arguments=json.dumps(args))
        return ModelResponse(output=[call], usage=Usage(), response_id=None)

    async def get_response(self, system_instructions, input, model_settings, tools, output_schema,
                           handoffs, tracing, **kwargs) -> ModelResponse:
        self.tools_seen = sorted(t.name for t in tools)
        outputs = tool_outputs(input)
        if not outputs:
            return self._call("search", {"query": self.query})
        if len(outputs) == 1:
            return self._call("fetch", {"id": outputs[0]["results"][0]["id"]})
        doc = outputs[1]
        text = ResponseOutputText(type="output_text", text=f"{doc['title']}: {doc['text']}", annotations=[])
        message = ResponseOutputMessage(type="message", id="msg_1", role="assistant", status="completed",
                                        content=[text])
        return ModelResponse(output=[message], usage=Usage(), response_id=None)

    def stream_response(self, *args, **kwargs):
        raise NotImplementedError


def test_an_agents_sdk_agent_searches_and_fetches_through_mcp(server, corpus):
    model = ResearchScript("Apollo 11 Moon landing Armstrong")

    async def go():
        async with MCPServerStreamableHttp(
            name="vector-store",
            params={"url": f"{server['base']}/mcp",
                    "headers": {"Authorization": f"Bearer {server['keys'][0]}"}},
            cache_tools_list=True,
        ) as mcp_server:
            agent = Agent(name="Researcher", instructions="Answer from the vector stores.",
                          mcp_servers=[mcp_server], model=model)
            return (await Runner.run(agent, "Who landed on the Moon first?")).final_output

    answer = asyncio.run(go())
    assert {"search", "fetch", "list_vector_stores"} <= set(model.tools_seen), model.tools_seen
    assert answer.startswith("apollo.txt: ") and "Neil Armstrong" in answer, answer
