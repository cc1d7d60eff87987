// Drives the official openai npm client against BASE_URL (an edge port) and
// prints what it received as one JSON object. Each step is one scenario of
// test/e2e/clients_test.go.
const OpenAI = require("openai");

const client = new OpenAI({ baseURL: process.env.BASE_URL, apiKey: "dummy-key-the-edge-replaces", maxRetries: 0 });
const model = process.env.MODEL;
const tools = [{
  type: "function",
  function: {
    name: "get_weather",
    description: "Weather for a city",
    parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
  },
}];

async function main() {
  const out = {};
  const c = await client.chat.completions.create({ model, messages: [{ role: "user", content: "hello" }] });
  out.chat = c.choices[0].message.content;

  const stream = await client.chat.completions.create({ model, stream: true, messages: [{ role: "user", content: "hello" }] });
  out.stream = "";
  out.chunks = 0;
  for await (const chunk of stream) {
    out.chunks++;
    out.stream += chunk.choices[0]?.delta?.content ?? "";
  }

  if (process.env.TOOLS === "1") {
    const messages = [{ role: "user", content: "weather in Paris?" }];
    const first = await client.chat.completions.create({ model, messages, tools });
    const call = first.choices[0].message.tool_calls[0];
    out.tool_call = { name: call.function.name, arguments: JSON.parse(call.function.arguments), finish: first.choices[0].finish_reason };
    messages.push(first.choices[0].message);
    messages.push({ role: "tool", tool_call_id: call.id, content: "sunny, 21C" });
    const second = await client.chat.completions.create({ model, messages, tools });
    out.after_tool = second.choices[0].message.content;
  }
  if (process.env.EMBED === "1") {
    const e = await client.embeddings.create({ model, input: "hello" });
    out.embedding_len = e.data[0].embedding.length;
  }
  console.log(JSON.stringify(out));
}

main().catch((e) => { console.error(e); process.exit(1); });
