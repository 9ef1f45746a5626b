using CodexLb.Tests.Infrastructure;

namespace CodexLb.Tests.Clients;

/// <summary>
/// The OpenAI Agents SDK (tests/Clients/openai-agents.mjs) on the Responses API. Its tool loop runs inside one
/// <c>run()</c>, which resends the turn's items for the answer; its stored-response API is the openai SDK's, tested there.
/// </summary>
public sealed class OpenAiAgentsSdkTests(ProductFixture product) : NodeClientTests(product, "openai-agents.mjs");
