using System.IO.Hashing;
using System.Runtime.InteropServices;
using CodexLb.Grains.Abstractions;
using CodexLb.Grains.Tree;
using CodexLb.Protocol.Events;
using CodexLb.Protocol.Items;
using CodexLb.Protocol.Responses;

namespace CodexLb.Grains.Conversation;

/// <summary>
/// A conversation grain's view of the response tree: the nodes it has seen (cached without their items), the chains it can
/// match a request against, and the rules that turn a request into a <see cref="TurnPlan"/>. Any response the tenant holds
/// can be a base, on any branch: forks cost nothing and invalidate nothing. Items stay in the store: a plan holds its
/// base's items only when it read them (see <see cref="ContextView"/>).
/// </summary>
public sealed class ConversationTree(IResponseTreeStore store, string conversationKey)
{
    // The node and chain caches only spare store reads (a miss reads the node, or finds the match in the store's index):
    // sized for a conversation's recent responses, not its whole history (8,192 chains were ~300 KB of tables per active
    // conversation; at 256 and 1,024 a conversation's tables were still growing, and promoted with each turn, for its first
    // thousand turns).
    private const int NodeLimit = RecentOnLoad, ChainLimit = 64, ViewLimit = 4, ItemLimit = 8192, MaxItemId = 256, RecentOnLoad = 32;

    private readonly string _tenant = ConversationKey.TenantOf(conversationKey);
    // Response id (its hash) -> what planning needs of the node; chain -> the newest response with that context. The ids
    // are kept inline (InlineId), not as strings: a busy conversation's recent ids were alive at every gen0 collection.
    private readonly RecentRing<ulong, (InlineId Id, KnownNode Node)> _nodes = new(NodeLimit);
    private readonly RecentRing<ulong, InlineId> _byChain = new(ChainLimit);
    private readonly List<ContextView> _views = [];
    // Output item id (its tenant key: a 128-bit hash) -> the item's fingerprint. Hashes, not the id strings: up to 8,192
    // entries per live conversation, one more each turn, and a string kept each turn was promoted through every generation.
    private readonly Dictionary<TenantKey, ulong> _printById = new();
    private readonly Queue<TenantKey> _idOrder = new();

    /// <summary>The conversation's latest response, whose context a full-history client most likely extends.</summary>
    public string? HeadResponseId { get; set; }

    /// <summary>How many items the latest committed context has.</summary>
    public int HeadCount { get; private set; }

    /// <summary>True when the tree holds at most its head's header (<see cref="Released"/>).</summary>
    public bool IsReleased => _nodes.Count == 0 && _views.Count <= 1 && _byChain.Count <= 1 && _printById.Count == 0;

    /// <summary>How many response ids the node and chain caches hold (for tests).</summary>
    internal int CachedResponseIds => _nodes.Values.Select(n => n.Id.Value).Union(_byChain.Values.Select(id => id.Value)).Count();

    // Set by Released: the output ids of the head's path are not known here until a path is read again.
    private bool _idsUnread;

    /// <summary>
    /// The same conversation holding only its head's header (id, size, chain: no items, no other node). An idle conversation
    /// holds almost nothing, and its next turn, which most likely continues the head, plans with no store read; any other
    /// response, and the output ids a reference names, is read from the store when a turn needs it, as after a reactivation.
    /// </summary>
    public ConversationTree Released()
    {
        var released = new ConversationTree(store, conversationKey) { HeadResponseId = HeadResponseId, HeadCount = HeadCount, _idsUnread = true };
        if (HeadResponseId is not { } head) return released;
        if ((CachedView(head) ?? NodeView(head)) is not { } view) return released;
        released.RememberView(view);
        if (!view.Synthetic) released.RememberChain(view.Chain, head);
        return released;
    }

    /// <summary>Plans a turn, or says why its anchor cannot be continued (never issued, or expired).</summary>
    public async ValueTask<(TurnPlan? Plan, ResponseStatus Missing)> PlanAsync(TurnRequest request, CancellationToken cancellationToken)
    {
        var input = request.InputFingerprints;
        ContextView? anchor = null;
        if (request.PreviousResponseId is { } previous)
        {
            var (view, status) = await MaterializeAsync(previous, cancellationToken);
            if (view is null) return (null, status);
            anchor = view;
        }
        else if (HeadResponseId is { } head && _nodes.Count == 0)
            await MaterializeAsync(head, cancellationToken); // learn the conversation's chains after a reactivation

        var references = References(request.InputItems);
        // A released tree kept its head, not the ids of its path's outputs: read the path a reference may name an item of.
        if (references is not null && _idsUnread && (request.PreviousResponseId ?? HeadResponseId) is { } path)
            await LoadAsync(path, cancellationToken);
        if (references is not null)
        {
            // The gateway found this conversation by a referenced item (no chain could match before the references are
            // read as the items they name): the response that output it teaches us those items.
            if (anchor is null && request.ResumeFromResponseId is { } referenced && request.ResumePrefixLength == 0)
                await MaterializeAsync(referenced, cancellationToken);
            input = Resolve(input, references);
        }

        // The request's whole context is the anchor's items, then the new input. A match must be longer than the anchor,
        // so only the chains of the input part are needed: element i is the chain of the anchor plus input[0..i].
        var prefix = anchor ?? ContextView.Empty;
        var chains = ContextChain.Prefixes(input, prefix.Chain);

        // The longest known response whose context this one starts with; at worst the anchor itself.
        var (matchId, matchLength) = FindLocal(chains);
        if (matchId is null && anchor is null && request.ResumeFromResponseId is { } hint && request.ResumePrefixLength <= chains.Length
            && request.ResumePrefixLength > 0)
            (matchId, matchLength) = (hint, request.ResumePrefixLength);
        if (matchId is null && anchor is null && chains.Length > 1)
        {
            var found = await store.FindByContentAsync(_tenant, chains, cancellationToken);
            if (found is not null) (matchId, matchLength) = (found.ResponseId, found.PrefixLength);
        }

        var baseView = prefix;
        var skip = prefix.Count; // request items [0, skip) are covered by the base
        if (matchId is not null && matchLength > 0)
        {
            var (view, _) = await MaterializeAsync(matchId, cancellationToken);
            if (view is not null && view.Chain == chains[matchLength - 1]) (baseView, skip) = (view, prefix.Count + matchLength);
        }
        // A reference the plan sends may name an item of the base's context: our own copy replaces it, so read the items.
        var first = skip - prefix.Count;
        if (references is not null && !baseView.HasItems && references.AsSpan(first).ContainsAnyExcept((string?)null)
            && (await LoadAsync(baseView.ResponseId!, cancellationToken)).View is { } loaded)
            baseView = loaded;
        return (Combine(baseView, request, input, references, first), ResponseStatus.Found);
    }

    /// <summary>
    /// The same plan with its base's items, read from the store when the grain did not hold them (a full send needs them);
    /// or why they cannot be read (the base expired or was deleted since the plan was made).
    /// </summary>
    public async ValueTask<(TurnPlan? Plan, ResponseStatus Missing)> WithBaseItemsAsync(TurnPlan plan, CancellationToken cancellationToken)
    {
        if (plan.Base.HasItems) return (plan, ResponseStatus.Found);
        var (view, status) = await LoadAsync(plan.Base.ResponseId!, cancellationToken);
        if (view is null) return (null, status);
        // Nodes never change: the same id with another context is a corrupted store, not something to send.
        if (view.Count != plan.Base.Count || view.Chain != plan.Base.Chain)
            throw new InvalidDataException($"The stored context of {plan.Base.ResponseId} is not the one the turn was planned on.");
        return (new TurnPlan(view, plan.NewItems, plan.NewFingerprints, plan.Bytes), ResponseStatus.Found);
    }

    /// <summary>The id each input item references (null where it is not a reference), or null when none is.</summary>
    private static string?[]? References(byte[][] items)
    {
        string?[]? ids = null;
        for (var i = 0; i < items.Length; i++)
            if (ItemReference.TargetOf(items[i]) is { } id) (ids ??= new string?[items.Length])[i] = id;
        return ids;
    }

    /// <summary>
    /// The input's fingerprints with each reference to an output item this conversation knows read as that item, so an
    /// SDK that echoes its history as <c>item_reference</c>s matches the response it continues. A reference to an item not
    /// known here keeps its own fingerprint (its id): it matches nothing but the same reference.
    /// </summary>
    private ulong[] Resolve(ulong[] fingerprints, string?[] references)
    {
        var resolved = (ulong[])fingerprints.Clone();
        for (var i = 0; i < references.Length; i++)
            if (references[i] is { } id && _printById.TryGetValue(TenantKey.Of(_tenant, id), out var print)) resolved[i] = print;
        return resolved;
    }

    /// <summary>
    /// The chain of the request's whole context: its anchor's context, then its input. The same whichever way a client
    /// sends the same question (anchored, as full history, anchored on a shorter response), so it identifies a turn where
    /// the request's shape cannot (<see cref="TurnFingerprint"/>). Null when the anchor is not known. At once when there is
    /// no anchor or it is cached (the running turn's base usually is); otherwise the store read the plan would make anyway.
    /// </summary>
    public ValueTask<ulong?> ContextOfAsync(TurnRequest request, CancellationToken cancellationToken)
    {
        if (request.PreviousResponseId is not { } previous) return new(ContextChain.Extend(ContextChain.Empty, request.InputFingerprints));
        if (CachedChain(previous) is { } chain) return new(ContextChain.Extend(chain, request.InputFingerprints));
        return LoadAsync(this, previous, request.InputFingerprints, cancellationToken);

        // Static, so that a call answered from the cache makes no closure.
        static async ValueTask<ulong?> LoadAsync(ConversationTree tree, string previous, ulong[] input, CancellationToken cancellationToken)
        {
            var (view, _) = await tree.MaterializeAsync(previous, cancellationToken);
            return view is null ? null : ContextChain.Extend(view.Chain, input);
        }
    }

    private ulong? CachedChain(string responseId)
    {
        if (CachedView(responseId) is { } view) return view.Chain;
        return Node(responseId) is { } known ? known.Chain : null;
    }

    /// <summary>The longest input prefix whose chain (anchor included) is a known response: its id and length in input items.</summary>
    private (string? Id, int Length) FindLocal(ulong[] chains)
    {
        for (var k = chains.Length; k > 0; k--)
            if (_byChain.TryGet(chains[k - 1], out var id)) return (id.Value, k);
        return (null, 0);
    }

    /// <summary>The base, then the request's input items from <paramref name="first"/> on (those before it are the base's).</summary>
    private static TurnPlan Combine(ContextView baseView, TurnRequest request, ulong[] fingerprints, string?[]? references, int first)
    {
        var total = request.InputItems.Length - first;
        var items = new List<byte[]>(total);
        var prints = new List<ulong>(total);
        var bytes = baseView.Bytes;
        Dictionary<string, byte[]>? byId = null;
        for (var i = first; i < request.InputItems.Length; i++)
        {
            var item = request.InputItems[i];
            var print = fingerprints[i];
            if (references?[i] is { } id)
            {
                // The provider cannot resolve a reference to an item it never stored (store:false upstream, another
                // account): put back our own copy when the context holds it.
                byId ??= IndexById((baseView.HasItems ? MemoryMarshal.ToEnumerable(baseView.Items) : []).Concat(items));
                if (byId.TryGetValue(id, out var resolved)) (item, print) = (resolved, ItemFingerprint.Compute(resolved));
            }
            items.Add(item);
            prints.Add(print);
            bytes += item.Length;
        }
        return new TurnPlan(baseView, items, prints, bytes);
    }

    private static Dictionary<string, byte[]> IndexById(IEnumerable<byte[]> items)
    {
        var byId = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        foreach (var item in items)
            if (ResponseObjects.ItemId(item) is { } id) byId[id] = item;
        return byId;
    }

    /// <summary>
    /// The node a completed turn becomes: the plan's new items and the outputs on top of its base. A compaction output
    /// starts a new root at the compaction item, so a rebuild sends the compacted form.
    /// </summary>
    /// <remarks>
    /// <paramref name="response"/> (the provider's response object) is kept for retrieve only when the client stores its
    /// responses: a <c>store:false</c> client (the Codex CLI) pays nothing for it, as the API would not return it either.
    /// </remarks>
    public static (ResponseNode Node, ContextView View) BuildNode(TurnPlan plan, string responseId, IReadOnlyList<byte[]> outputs,
        IReadOnlyList<ulong> outputPrints, string conversationKey, bool synthetic = false, ReadOnlySpan<byte> response = default,
        bool background = false)
    {
        var compaction = LastCompaction(outputs);
        ContextView view;
        byte[][] turnItems;
        if (compaction >= 0)
        {
            turnItems = [.. outputs.Skip(compaction)];
            var chain = ContextChain.Empty;
            for (var i = compaction; i < outputPrints.Count; i++) chain = ContextChain.Next(chain, outputPrints[i]);
            view = new ContextView(responseId, turnItems.Length, chain, synthetic, ContextView.SizeOf(turnItems));
        }
        else
        {
            turnItems = new byte[plan.NewCount + outputs.Count][];
            for (var i = 0; i < plan.NewCount; i++) turnItems[i] = plan.NewItems[i];
            for (var i = 0; i < outputs.Count; i++) turnItems[plan.NewCount + i] = outputs[i];
            // The base's chain is known: only the new items and the outputs are hashed into it.
            var chain = ContextChain.Extend(plan.Base.Chain, CollectionsMarshal.AsSpan(plan.NewFingerprints));
            foreach (var print in outputPrints) chain = ContextChain.Next(chain, print);
            view = plan.Base.Extend(responseId, turnItems.Length, chain, synthetic, plan.Bytes + ContextView.SizeOf(outputs));
        }
        // A client that stores its responses may send their outputs back as item_references: they are found by id.
        var outputIds = response.IsEmpty || synthetic ? null : OutputIdsOf(outputs, Math.Max(0, compaction));
        var rooted = compaction >= 0 || plan.Base.ResponseId is null;
        // A root's context is all it adds (a first turn's base is empty; a compaction's context is its outputs).
        var added = rooted && view.Count != turnItems.Length ? [.. plan.Items, .. outputs] : turnItems;
        byte[]? envelope = null;
        var stripped = false;
        // Outputs before a compaction are not tree items: the envelope then keeps its output whole.
        if (!response.IsEmpty) envelope = ResponseObjects.ToEnvelope(response, compaction > 0 ? -1 : outputs.Count, background, out stripped);
        var node = new ResponseNode(responseId, rooted ? null : plan.Base.ResponseId, conversationKey, view.Count, view.Chain, added, synthetic,
            envelope, stripped ? outputs.Count : 0, outputIds);
        return (node, view);
    }

    private static string[]? OutputIdsOf(IReadOnlyList<byte[]> outputs, int from)
    {
        if (from >= outputs.Count) return null;
        var ids = new string[outputs.Count - from];
        for (var i = 0; i < ids.Length; i++)
            // Stored joined by newlines: an id that could shift the others (or an oversized one) is left out, not misaligned.
            ids[i] = ResponseObjects.ItemId(outputs[from + i]) is { Length: <= MaxItemId } id && !id.Contains('\n') ? id : "";
        return ids;
    }

    /// <summary>Makes a persisted node part of what this grain knows; it becomes the head.</summary>
    public void Commit(ResponseNode node, ContextView view)
    {
        Remember(node, view.Bytes);
        RememberView(view);
        HeadResponseId = node.Id;
        HeadCount = view.Count;
    }

    /// <summary>The context of any response of this tenant: from the views, the cached nodes (without items), or one store read (with them).</summary>
    private async ValueTask<(ContextView? View, ResponseStatus Status)> MaterializeAsync(string responseId, CancellationToken cancellationToken)
    {
        if (CachedView(responseId) is { } cached) return (cached, ResponseStatus.Found);
        if (NodeView(responseId) is { } view)
        {
            RememberView(view);
            return (view, ResponseStatus.Found);
        }
        return await LoadAsync(responseId, cancellationToken);
    }

    /// <summary>The context of a cached node, without its items; null when the node is not cached.</summary>
    private ContextView? NodeView(string responseId) =>
        Node(responseId) is { } known ? new ContextView(responseId, known.Count, known.Chain, known.Synthetic, known.Bytes) : null;

    private KnownNode? Node(string responseId) => Node(responseId, IdHash(responseId));

    private KnownNode? Node(string responseId, ulong hash) =>
        _nodes.TryGet(hash, out var entry) && entry.Id.Is(responseId) ? entry.Node : null; // another id's hash: a miss

    private static ulong IdHash(string responseId) => XxHash3.HashToUInt64(MemoryMarshal.AsBytes(responseId.AsSpan()));

    /// <summary>
    /// Reads a response's path from the store: its newest nodes become known (forks and retries continue recent responses;
    /// an older one costs a store read), and the view returned holds the items; the one remembered does not.
    /// </summary>
    private async ValueTask<(ContextView? View, ResponseStatus Status)> LoadAsync(string responseId, CancellationToken cancellationToken)
    {
        var loaded = await store.LoadPathAsync(_tenant, responseId, cancellationToken);
        if (loaded.Status != ResponseStatus.Found) return (null, loaded.Status);
        _idsUnread = false;
        var items = new byte[loaded.Nodes.Sum(n => n.Added.Count)][];
        var (at, bytes) = (0, 0L);
        for (var n = loaded.Nodes.Count - 1; n >= 0; n--)
        {
            var node = loaded.Nodes[n];
            foreach (var item in node.Added) { items[at++] = item; bytes += item.Length; }
            Remember(node, bytes, recent: n < RecentOnLoad);
        }
        var last = loaded.Nodes[0];
        var view = new ContextView(last.Id, items, last.Chain, last.Synthetic, bytes);
        RememberView(view);
        return (view, ResponseStatus.Found);
    }

    /// <param name="recent">False for an old node of a path read back: only its output item ids are learnt (a client may
    /// reference any of them), not the node: a long session's whole path filled both caches at every reload.</param>
    private void Remember(ResponseNode node, long contextBytes, bool recent = true)
    {
        if (!node.Synthetic && node.OutputIds is { } ids) RememberIds(node, ids);
        if (!recent) return;
        var hash = IdHash(node.Id);
        if (Node(node.Id, hash) is null) _nodes.Add(hash, (InlineId.Of(node.Id), new KnownNode(node.Chain, node.ItemCount, node.Synthetic, contextBytes)));
        if (!node.Synthetic) RememberChain(node.Chain, node.Id);
    }

    private void RememberChain(ulong chain, string responseId)
    {
        // The newest response with a context wins: it is the one the socket most likely still holds. A path read again
        // remembers its nodes again: one already the newest for its chain is not added twice.
        if (_byChain.TryGet(chain, out var newest) && newest.Is(responseId)) return;
        _byChain.Add(chain, InlineId.Of(responseId));
    }

    private void RememberIds(ResponseNode node, IReadOnlyList<string> ids)
    {
        var first = node.Added.Count - ids.Count;
        if (first < 0) return;
        for (var i = 0; i < ids.Count; i++)
        {
            if (ids[i].Length == 0) continue;
            var key = TenantKey.Of(_tenant, ids[i]);
            if (_printById.ContainsKey(key)) continue;
            _printById[key] = ItemFingerprint.Compute(node.Added[first + i]);
            _idOrder.Enqueue(key);
        }
        while (_idOrder.Count > ItemLimit) _printById.Remove(_idOrder.Dequeue());
    }

    private ContextView? CachedView(string responseId)
    {
        foreach (var view in _views)
            if (view.ResponseId == responseId) return view;
        return null;
    }

    private void RememberView(ContextView view)
    {
        view = view.WithoutItems();
        // A loop, not RemoveAll with a lambda: that was a closure and a delegate per turn for the collector to walk.
        // The chain first: a response's chain never changes, and the ids, all of one length, are compared byte by byte.
        for (var i = _views.Count - 1; i >= 0; i--)
            if (_views[i].Chain == view.Chain && _views[i].ResponseId == view.ResponseId) _views.RemoveAt(i);
        _views.Insert(0, view);
        if (_views.Count > ViewLimit) _views.RemoveAt(_views.Count - 1);
    }

    private static int LastCompaction(IReadOnlyList<byte[]> outputs)
    {
        for (var i = outputs.Count - 1; i >= 0; i--)
            if (EventReader.HasType(outputs[i], "compaction"u8)) return i;
        return -1;
    }

    /// <summary>What a grain keeps of a node it has seen: enough to plan on it, not its items.</summary>
    private readonly record struct KnownNode(ulong Chain, int Count, bool Synthetic, long Bytes);
}
