using System;
using System.Collections.Generic;
using System.Net;
using System.Net.Http;
using System.Net.Http.Headers;
using System.Text.Json;
using System.Threading.Tasks;
using FluentAssertions;
using GroupRelay.Specification.Tests;
using Microsoft.Data.Sqlite;
using Xunit;

namespace GroupRelay.Sample.Tests;

/// <summary>
/// The sample as a real host uses GroupRelay's hooks (issue 14): its message rules (a filter), its message store (an
/// observer) with the HTTP endpoint that serves what the relay no longer retains, /healthz, and a deleted user's token.
/// </summary>
public sealed class SampleHostHooksTests
{
    private static Dictionary<string, object?> Send(string id, object body) => new() { ["type"] = "send", ["id"] = id, ["group"] = "team", ["body"] = body };

    [Fact]
    public async Task Filter_EmptyAndOverlongTextAreRefusedWithAReason_AndEveryAcceptedMessageIsStoredAndServedOverHttp()
    {
        await using SampleServer server = await SampleServer.StartAsync();
        string token = await server.LoginAsync("alice");
        await using RelayTestClient alice = await RelayTestClient.ConnectAsync(new Uri($"{server.RelayUri}?access_token={Uri.EscapeDataString(token)}"), "alice");

        JsonElement empty = await alice.RequestAsync(Send("e", new { text = "   " }));
        JsonElement overlong = await alice.RequestAsync(Send("o", new { text = new string('x', 4001) }));
        JsonElement notText = await alice.RequestAsync(Send("n", 42));
        JsonElement first = await alice.RequestAsync(Send("a", new { text = "hello" }));
        JsonElement longest = await alice.RequestAsync(Send("b", new { text = new string('y', 4000) }));

        empty.GetProperty("code").GetString().Should().Be("forbidden");
        empty.GetProperty("message").GetString().Should().Be("a message needs some text");
        overlong.GetProperty("message").GetString().Should().Be("a message has at most 4,000 characters (this one has 4,001)");
        notText.GetProperty("code").GetString().Should().Be("forbidden");
        first.GetProperty("type").GetString().Should().Be("ack");
        longest.GetProperty("type").GetString().Should().Be("ack", "4,000 characters is the limit, not over it");

        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/groups/team/messages");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        JsonElement stored = default;
        for (DateTime deadline = DateTime.UtcNow + RelayTestClient.DefaultTimeout; DateTime.UtcNow < deadline; await Task.Delay(50))
        {
            using var poll = new HttpRequestMessage(HttpMethod.Get, "/api/groups/team/messages");
            poll.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
            using HttpResponseMessage response = await server.Http.SendAsync(poll);
            response.StatusCode.Should().Be(HttpStatusCode.OK);
            stored = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("messages").Clone();
            if (stored.GetArrayLength() == 2)
            {
                break;
            }
        }

        stored.GetArrayLength().Should().Be(2, "the observer stores the accepted messages only");
        stored[0].GetProperty("seq").GetInt64().Should().Be(first.GetProperty("seq").GetInt64());
        stored[0].GetProperty("from").GetString().Should().Be("alice");
        stored[0].GetProperty("body").GetProperty("text").GetString().Should().Be("hello");
        stored[1].GetProperty("seq").GetInt64().Should().Be(longest.GetProperty("seq").GetInt64());
    }

    [Fact]
    public async Task StoredMessages_AreForMembersOnly()
    {
        await using SampleServer server = await SampleServer.StartAsync();
        string erin = await server.LoginAsync("erin");

        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/groups/team/messages");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", erin);
        using HttpResponseMessage response = await server.Http.SendAsync(request);
        using HttpResponseMessage anonymous = await server.Http.GetAsync("/api/groups/team/messages");

        response.StatusCode.Should().Be(HttpStatusCode.Forbidden);
        anonymous.StatusCode.Should().Be(HttpStatusCode.Unauthorized);
    }

    [Fact]
    public async Task Healthz_ReportsTheRelayHealthy()
    {
        await using SampleServer server = await SampleServer.StartAsync();

        using HttpResponseMessage response = await server.Http.GetAsync("/healthz");

        response.StatusCode.Should().Be(HttpStatusCode.OK);
        (await response.Content.ReadAsStringAsync()).Should().Be("Healthy");
    }

    [Fact]
    public async Task AUserDeletedFromTheDatabase_WithAStillValidToken_IsRefusedAsUnauthorized_NotWelcomedWithNoGroups()
    {
        await using SampleServer server = await SampleServer.StartAsync();
        string token = await server.LoginAsync("erin");
        using (var connection = new SqliteConnection($"Data Source={server.DatabasePath}"))
        {
            connection.Open();
            using SqliteCommand delete = connection.CreateCommand();
            delete.CommandText = "PRAGMA foreign_keys = ON; DELETE FROM users WHERE id = 'erin';";
            delete.ExecuteNonQuery();
        }

        Func<Task> connect = () => RelayTestClient.ConnectAsync(new Uri($"{server.RelayUri}?access_token={Uri.EscapeDataString(token)}"), "erin", waitForWelcome: false);
        using var plainGet = new HttpRequestMessage(HttpMethod.Get, "/relay");
        plainGet.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        using HttpResponseMessage identity = await server.Http.SendAsync(plainGet);

        (await connect.Should().ThrowAsync<System.Net.WebSockets.WebSocketException>()).Which.Message.Should().Contain("401", "refused before the upgrade");
        identity.StatusCode.Should().Be(HttpStatusCode.Unauthorized, "PROTOCOL.md section 6.4: the plain GET tells a client its identity is refused");
    }
}
