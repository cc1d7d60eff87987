// Drives the official @anthropic-ai/sdk npm client against BASE_URL (an
// edge port) and prints what it received as one JSON object.
const Anthropic = require("@anthropic-ai/sdk");

const client = new Anthropic({ baseURL: process.env.BASE_URL, apiKey: "dummy-key-the-edge-replaces", maxRetries: 0 });
const model = process.env.MODEL;
const tools = [{
  name: "get_weather",
  description: "Weather for a city",
  input_schema: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
}];

const text = (m) => m.content.filter((b) => b.type === "text").map((b) => b.text).join("");

async function main() {
  const out = {};
  const m = await client.messages.create({ model, max_tokens: 100, messages: [{ role: "user", content: "hello" }] });
  out.message = text(m);
  out.stop_reason = m.stop_reason;
  out.usage = m.usage;

  const s = client.messages.stream({ model, max_tokens: 100, messages: [{ role: "user", content: "hello" }] });
  let deltas = "";
  s.on("text", (t) => { deltas += t; });
  const final = await s.finalMessage();
  out.stream_deltas = deltas;
  out.stream_final = text(final);
  out.stream_stop = final.stop_reason;

  if (process.env.TOOLS === "1") {
    const messages = [{ role: "user", content: "weather in Paris?" }];
    const first = await client.messages.create({ model, max_tokens: 100, messages, tools });
    const use = first.content.find((b) => b.type === "tool_use");
    out.tool_use = { name: use.name, input: use.input, stop: first.stop_reason };
    messages.push({ role: "assistant", content: first.content });
    messages.push({ role: "user", content: [{ type: "tool_result", tool_use_id: use.id, content: "sunny, 21C" }] });
    const second = await client.messages.create({ model, max_tokens: 100, messages, tools });
    out.after_tool = text(second);
  }
  console.log(JSON.stringify(out));
}

main().catch((e) => { console.error(e); process.exit(1); });
