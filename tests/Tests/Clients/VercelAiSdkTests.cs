using CodexLb.Tests.Infrastructure;

namespace CodexLb.Tests.Clients;

/// <summary>
/// The Vercel AI SDK (tests/Clients/vercel-ai.mjs) with its Responses model <c>openai.responses(...)</c>. It has no API
/// for stored responses (retrieve/cancel/delete), so it runs the common scenarios only.
/// </summary>
public sealed class VercelAiSdkTests(ProductFixture product) : NodeClientTests(product, "vercel-ai.mjs");
