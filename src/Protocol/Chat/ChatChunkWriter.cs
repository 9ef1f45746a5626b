using System.Buffers;
using System.Text.Json;
using CodexLb.Protocol.Errors;
using CodexLb.Protocol.Events;

namespace CodexLb.Protocol.Chat;

/// <summary>
/// Turns one response's Responses events into <c>chat.completion.chunk</c> server-sent events as OpenAI streams them: a
/// role chunk first, content and refusal deltas, tool calls (the first chunk of each with its id, name and index, then
/// argument deltas), a finish chunk, the usage chunk when asked for, then <c>data: [DONE]</c>. Text or arguments an item
/// carries only in its <c>output_item.done</c> (a provider that streamed no deltas) are sent then, so nothing is lost.
/// </summary>
public sealed class ChatChunkWriter(IBufferWriter<byte> output, bool includeUsage) : IDisposable
{
    private readonly Utf8JsonWriter _json = new(output);
    private readonly Dictionary<int, ItemState> _items = [];
    private string _id = ChatCompletion.Id(null);
    private long _created = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
    private string? _model;
    private int _toolCalls;

    /// <summary>Whether a chunk was written: from then on an error can only be an error chunk.</summary>
    public bool Started { get; private set; }

    /// <summary>Translates one event; true when it ended the chat stream (finish chunk, usage, <c>[DONE]</c> written).</summary>
    public bool Write(string type, ReadOnlySpan<byte> data)
    {
        switch (type)
        {
            case EventTypes.Created or EventTypes.InProgress:
                Describe(data);
                Start();
                return false;
            case "response.output_text.delta":
                Text(ReadDelta(data), refusal: false);
                return false;
            case "response.refusal.delta":
                Text(ReadDelta(data), refusal: true);
                return false;
            case "response.function_call_arguments.delta":
                Arguments(ReadDelta(data));
                return false;
            case EventTypes.OutputItemAdded or EventTypes.OutputItemDone:
                Item(data, done: type == EventTypes.OutputItemDone);
                return false;
            case EventTypes.Completed or EventTypes.Incomplete:
                Finish(data);
                return true;
            default:
                return false;
        }
    }

    /// <summary>The stream's end on a failure: OpenAI's error chunk (<c>data: {"error":…}</c>), and no <c>[DONE]</c>.</summary>
    public void WriteError(OpenAIError error)
    {
        output.Write("data: "u8);
        output.Write(error.ToJsonBytes());
        output.Write("\n\n"u8);
    }

    private sealed class ItemState
    {
        public int ToolIndex = -1;
        public int Text, Refusal, Arguments; // characters sent so far
    }

    private ItemState State(int outputIndex)
    {
        if (!_items.TryGetValue(outputIndex, out var state)) _items[outputIndex] = state = new ItemState();
        return state;
    }

    private void Describe(ReadOnlySpan<byte> data)
    {
        var reader = new Utf8JsonReader(data, JsonLimits.Reader);
        using var document = JsonDocument.ParseValue(ref reader);
        if (!document.RootElement.TryGetProperty("response", out var response) || response.ValueKind != JsonValueKind.Object) return;
        if (ChatCompletion.StringOf(response, "id") is { } id) _id = ChatCompletion.Id(id);
        _model = ChatCompletion.StringOf(response, "model") ?? _model;
        if (response.TryGetProperty("created_at", out var created) && created.ValueKind == JsonValueKind.Number) _created = ChatCompletion.CreatedOf(response);
    }

    private void Start()
    {
        if (Started) return;
        Started = true;
        Chunk(0, static (w, _) =>
        {
            w.WriteString("role", "assistant");
            w.WriteString("content", "");
            w.WriteNull("refusal");
        });
    }

    private void Text((int Index, string Delta) delta, bool refusal)
    {
        if (delta.Delta.Length == 0) return;
        var state = State(delta.Index);
        if (refusal) state.Refusal += delta.Delta.Length; else state.Text += delta.Delta.Length;
        Chunk((Field: refusal ? "refusal" : "content", delta.Delta), static (w, text) => w.WriteString(text.Field, text.Delta));
    }

    private void Arguments((int Index, string Delta) delta)
    {
        var state = State(delta.Index);
        if (state.ToolIndex < 0 || delta.Delta.Length == 0) return; // a call is announced by output_item.added first
        state.Arguments += delta.Delta.Length;
        ToolChunk(state.ToolIndex, null, delta.Delta);
    }

    private void Item(ReadOnlySpan<byte> data, bool done)
    {
        var reader = new Utf8JsonReader(data, JsonLimits.Reader);
        using var document = JsonDocument.ParseValue(ref reader);
        var root = document.RootElement;
        if (!root.TryGetProperty("item", out var item) || item.ValueKind != JsonValueKind.Object) return;
        var index = root.TryGetProperty("output_index", out var at) && at.ValueKind == JsonValueKind.Number ? at.GetInt32() : -1;
        var state = State(index);
        switch (ChatCompletion.StringOf(item, "type"))
        {
            case "function_call" when ChatCompletion.CallOf(item) is { } call:
                if (state.ToolIndex < 0)
                {
                    state.ToolIndex = _toolCalls++;
                    state.Arguments = call.Arguments.Length;
                    ToolChunk(state.ToolIndex, call, call.Arguments);
                }
                else if (done && call.Arguments.Length > state.Arguments)
                {
                    ToolChunk(state.ToolIndex, null, call.Arguments[state.Arguments..]);
                    state.Arguments = call.Arguments.Length;
                }
                break;
            case "message" when done && item.TryGetProperty("content", out var content) && content.ValueKind == JsonValueKind.Array:
                string text = "", refusal = "";
                foreach (var part in content.EnumerateArray())
                {
                    if (ChatCompletion.StringOf(part, "type") == "output_text") text += ChatCompletion.StringOf(part, "text");
                    else if (ChatCompletion.StringOf(part, "type") == "refusal") refusal += ChatCompletion.StringOf(part, "refusal");
                }
                if (text.Length > state.Text) Text((index, text[state.Text..]), refusal: false);
                if (refusal.Length > state.Refusal) Text((index, refusal[state.Refusal..]), refusal: true);
                break;
        }
    }

    private void ToolChunk(int toolIndex, ChatCompletion.ToolCall? start, string arguments) => Chunk((Index: toolIndex, Start: start, Arguments: arguments), static (w, call) =>
    {
        w.WriteStartArray("tool_calls");
        w.WriteStartObject();
        w.WriteNumber("index", call.Index);
        if (call.Start is { } first)
        {
            w.WriteString("id", first.Id);
            w.WriteString("type", "function");
        }
        w.WriteStartObject("function");
        if (call.Start is { } named) w.WriteString("name", named.Name);
        w.WriteString("arguments", call.Arguments);
        w.WriteEndObject();
        w.WriteEndObject();
        w.WriteEndArray();
    });

    private void Finish(ReadOnlySpan<byte> data)
    {
        Describe(data);
        Start();
        var reader = new Utf8JsonReader(data, JsonLimits.Reader);
        using var document = JsonDocument.ParseValue(ref reader);
        var response = document.RootElement.TryGetProperty("response", out var r) ? r : default;
        Chunk(0, static (_, _) => { }, ChatCompletion.FinishReason(response, _toolCalls > 0));
        if (includeUsage)
        {
            Begin();
            _json.WriteStartArray("choices");
            _json.WriteEndArray();
            ChatCompletion.WriteUsage(_json, response);
            End();
        }
        output.Write("data: [DONE]\n\n"u8);
    }

    /// <summary>One chunk whose <c>delta</c> object <paramref name="delta"/> fills from <paramref name="state"/> (static lambdas: no closure per chunk).</summary>
    private void Chunk<TState>(TState state, Action<Utf8JsonWriter, TState> delta, string? finishReason = null)
    {
        Start();
        Begin();
        _json.WriteStartArray("choices");
        _json.WriteStartObject();
        _json.WriteNumber("index", 0);
        _json.WriteStartObject("delta");
        delta(_json, state);
        _json.WriteEndObject();
        _json.WriteNull("logprobs");
        ChatCompletion.WriteNullable(_json, "finish_reason", finishReason);
        _json.WriteEndObject();
        _json.WriteEndArray();
        if (includeUsage) _json.WriteNull("usage"); // every chunk but the last carries usage:null when usage was asked for
        End();
    }

    private void Begin()
    {
        output.Write("data: "u8);
        _json.Reset(output);
        _json.WriteStartObject();
        _json.WriteString("id", _id);
        _json.WriteString("object", "chat.completion.chunk");
        _json.WriteNumber("created", _created);
        ChatCompletion.WriteNullable(_json, "model", _model);
    }

    private void End()
    {
        _json.WriteEndObject();
        _json.Flush();
        output.Write("\n\n"u8);
    }

    /// <summary><c>output_index</c> and <c>delta</c> of a delta event, read without a document (deltas are most events).</summary>
    private static (int Index, string Delta) ReadDelta(ReadOnlySpan<byte> data)
    {
        var reader = new Utf8JsonReader(data, JsonLimits.Reader);
        var (index, delta) = (-1, "");
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject) return (index, delta);
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var isIndex = reader.ValueTextEquals("output_index"u8);
            var isDelta = !isIndex && reader.ValueTextEquals("delta"u8);
            reader.Read();
            if (isIndex && reader.TokenType == JsonTokenType.Number) index = reader.GetInt32();
            else if (isDelta && reader.TokenType == JsonTokenType.String) delta = reader.GetString()!;
            else reader.Skip();
        }
        return (index, delta);
    }

    public void Dispose() => _json.Dispose();
}
