using System.Globalization;
using CodexLb.Protocol.Errors;
using CodexLb.Protocol.Responses;
using Microsoft.AspNetCore.Http;

namespace CodexLb.Gateway.Endpoints;

/// <summary>The query of a paged item list (a response's input items, a conversation's items): <c>limit</c> 1–100 (20), <c>order</c> asc|desc (desc), <c>after</c>.</summary>
public static class PageQuery
{
    /// <summary>The page asked for, or the 400 that says which parameter is wrong.</summary>
    public static OpenAIError? TryRead(IQueryCollection query, out InputItemsQuery page)
    {
        page = new InputItemsQuery();
        var limit = 20;
        if (query.TryGetValue("limit", out var limitText) && (!int.TryParse(limitText, NumberStyles.None, CultureInfo.InvariantCulture, out limit) || limit is < 1 or > 100))
            return ProxyErrors.InvalidRequest("'limit' must be an integer from 1 to 100.", "limit");
        var order = query.TryGetValue("order", out var orderText) ? orderText.ToString() : "desc";
        if (order is not ("asc" or "desc")) return ProxyErrors.InvalidRequest("'order' must be 'asc' or 'desc'.", "order");
        page = new InputItemsQuery(limit, order == "asc", query.TryGetValue("after", out var after) && after.Count > 0 ? after.ToString() : null);
        return null;
    }
}
