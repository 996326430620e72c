using System;
using System.Linq;
using System.Net;
using System.Net.Http;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using System.Threading;
using System.Threading.Tasks;
using FluentAssertions;
using GroupRelay.Specification.Tests;
using Xunit;

namespace GroupRelay.Sample.Tests;

public sealed class SampleHostTests
{
    [Fact]
    public async Task Login_KnownUser_Returns200WithAToken()
    {
        await using SampleServer server = await SampleServer.StartAsync();

        using HttpResponseMessage response = await server.Http.PostAsJsonAsync("/api/login", new { user = "alice" });

        response.StatusCode.Should().Be(HttpStatusCode.OK);
        using JsonDocument body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        body.RootElement.GetProperty("token").GetString().Should().NotBeNullOrEmpty();
        body.RootElement.GetProperty("user").GetString().Should().Be("alice");
    }

    [Fact]
    public async Task Login_UnknownUser_Returns404()
    {
        await using SampleServer server = await SampleServer.StartAsync();

        using HttpResponseMessage response = await server.Http.PostAsJsonAsync("/api/login", new { user = "mallory" });

        response.StatusCode.Should().Be(HttpStatusCode.NotFound);
        (await response.Content.ReadAsStringAsync()).Should().Contain("mallory");
    }

    [Theory]
    [InlineData("not json")]
    [InlineData("")]
    [InlineData("{}")]
    [InlineData("[]")]
    [InlineData("{\"user\":5}")]
    [InlineData("{\"user\":\"\"}")]
    [InlineData("{\"name\":\"alice\"}")]
    public async Task Login_BadBody_Returns400(string body)
    {
        await using SampleServer server = await SampleServer.StartAsync();

        using var content = new StringContent(body, Encoding.UTF8, "application/json");
        using HttpResponseMessage response = await server.Http.PostAsync("/api/login", content);

        response.StatusCode.Should().Be(HttpStatusCode.BadRequest);
        using JsonDocument error = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        error.RootElement.GetProperty("error").GetString().Should().Contain("{\"user\":\"alice\"}", "the error shows the expected body");
    }

    [Fact]
    public async Task Users_ListsTheDatabaseUsers_WithoutLogin()
    {
        await using SampleServer server = await SampleServer.StartAsync();

        string[]? users = await server.Http.GetFromJsonAsync<string[]>("/api/users");

        users.Should().Equal("alice", "bob", "carol", "dave", "erin");
    }

    [Fact]
    public async Task MyFriends_NeedsTheToken_AndListsTheCallersFriends()
    {
        await using SampleServer server = await SampleServer.StartAsync();
        string token = await server.LoginAsync("dave");

        using HttpResponseMessage anonymous = await server.Http.GetAsync("/api/me/friends");
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/me/friends");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        using HttpResponseMessage response = await server.Http.SendAsync(request);

        anonymous.StatusCode.Should().Be(HttpStatusCode.Unauthorized);
        response.StatusCode.Should().Be(HttpStatusCode.OK);
        using JsonDocument body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        body.RootElement.GetProperty("friends").EnumerateArray().Select(e => e.GetString()).Should().Equal("alice", "erin");
    }

    [Fact]
    public async Task AccessTokenQuery_IsAcceptedOnTheRelayPathOnly()
    {
        await using SampleServer server = await SampleServer.StartAsync();
        string token = await server.LoginAsync("alice");

        using HttpResponseMessage response = await server.Http.GetAsync("/api/me?access_token=" + Uri.EscapeDataString(token));

        response.StatusCode.Should().Be(HttpStatusCode.Unauthorized);
    }

    [Fact]
    public async Task Relay_AcceptsTheLoginToken_InTheAccessTokenQuery()
    {
        await using SampleServer server = await SampleServer.StartAsync();
        string token = await server.LoginAsync("alice");

        await using RelayTestClient client = await RelayTestClient.ConnectAsync(
            new Uri(server.RelayUri + "?access_token=" + Uri.EscapeDataString(token)), "alice",
            configure: o => o.AddSubProtocol("grouprelay.v1"));

        client.Socket.SubProtocol.Should().Be("grouprelay.v1");
        client.Welcome.GetProperty("user").GetString().Should().Be("alice");
        client.Welcome.GetProperty("groups").EnumerateArray().Select(e => e.GetString()).Should().BeEquivalentTo(new[] { "all", "family", "team" });
    }

    /// <summary>
    /// Issue 11 #6: routing ignores the case of the path, so the access_token hook must too; <c>/RELAY</c> reached the
    /// relay but was refused with 401 because the hook compared the path case-sensitively.
    /// </summary>
    [Theory]
    [InlineData("/RELAY")]
    [InlineData("/Relay")]
    [InlineData("/relay/")]
    public async Task Relay_AcceptsTheAccessTokenQuery_WhateverTheCaseOfThePath(string path)
    {
        await using SampleServer server = await SampleServer.StartAsync();
        string token = await server.LoginAsync("alice");
        var uri = new Uri($"ws://{server.BaseUri.Authority}{path}?access_token={Uri.EscapeDataString(token)}");

        await using RelayTestClient client = await RelayTestClient.ConnectAsync(uri, "alice");

        client.Welcome.GetProperty("user").GetString().Should().Be("alice");

        // A plain GET of the relay path says whether the token is valid (400) or refused (401): PROTOCOL.md section 6.
        using HttpResponseMessage plain = await server.Http.GetAsync($"{path}?access_token={Uri.EscapeDataString(token)}");
        plain.StatusCode.Should().Be(HttpStatusCode.BadRequest);
    }

    [Theory]
    [InlineData("/RELAYX")]
    [InlineData("/api/ME")]
    public async Task AccessTokenQuery_IsStillRefusedOffTheRelayPath_WhateverTheCase(string path)
    {
        await using SampleServer server = await SampleServer.StartAsync();
        string token = await server.LoginAsync("alice");

        using HttpResponseMessage response = await server.Http.GetAsync($"{path}?access_token={Uri.EscapeDataString(token)}");

        response.StatusCode.Should().BeOneOf(HttpStatusCode.Unauthorized, HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task Relay_AcceptsTheLoginToken_InTheAuthorizationHeader()
    {
        await using SampleServer server = await SampleServer.StartAsync();
        string token = await server.LoginAsync("erin");

        await using RelayTestClient client = await RelayTestClient.ConnectAsync(server.RelayUri, "erin",
            configure: o => o.SetRequestHeader("Authorization", "Bearer " + token));

        client.Welcome.GetProperty("user").GetString().Should().Be("erin");
        client.Welcome.GetProperty("groups").EnumerateArray().Select(e => e.GetString()).Should().Equal("all");
    }

    [Theory]
    [InlineData(null)]
    [InlineData("not-a-token")]
    public async Task Relay_WithoutAValidToken_RefusesTheUpgradeWith401(string? token)
    {
        await using SampleServer server = await SampleServer.StartAsync();
        using var socket = new ClientWebSocket();
        socket.Options.CollectHttpResponseDetails = true;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        Uri uri = token is null ? server.RelayUri : new Uri(server.RelayUri + "?access_token=" + token);

        Func<Task> connect = () => socket.ConnectAsync(uri, timeout.Token);

        await connect.Should().ThrowAsync<WebSocketException>();
        socket.HttpStatusCode.Should().Be(HttpStatusCode.Unauthorized);
    }

    [Fact]
    public async Task Relay_DeliversMessagesAndPresence_BetweenTwoLoggedInUsers()
    {
        await using SampleServer server = await SampleServer.StartAsync();
        string aliceToken = await server.LoginAsync("alice");
        string bobToken = await server.LoginAsync("bob");
        await using RelayTestClient alice = await RelayTestClient.ConnectAsync(new Uri(server.RelayUri + "?access_token=" + Uri.EscapeDataString(aliceToken)), "alice");
        await alice.SendTextAsync("""{"type":"watch","id":"w","users":["bob","erin"]}""");
        (await alice.ExpectAsync("presence")).GetProperty("offline").EnumerateArray().Select(e => e.GetString()).Should().Equal("bob", "erin");

        await using RelayTestClient bob = await RelayTestClient.ConnectAsync(new Uri(server.RelayUri + "?access_token=" + Uri.EscapeDataString(bobToken)), "bob");
        await bob.SendTextAsync("""{"type":"send","id":"m","group":"team","body":{"text":"hi alice"}}""");

        JsonElement message = await alice.ExpectAsync("message");
        message.GetProperty("from").GetString().Should().Be("bob");
        message.GetProperty("body").GetProperty("text").GetString().Should().Be("hi alice");
        JsonElement online = await alice.ExpectAsync("presence", f => f.TryGetProperty("user", out JsonElement u) && u.GetString() == "bob");
        online.GetProperty("online").GetBoolean().Should().BeTrue();
    }

    [Fact]
    public async Task Tokens_FromOneInstance_AreAcceptedByASecondInstanceOnTheSameDatabase()
    {
        string database = TempDatabase.NewPath();
        await using SampleServer first = await SampleServer.StartAsync(database);
        string tokenFromFirst = await first.LoginAsync("carol");
        await using SampleServer second = await SampleServer.StartAsync(database);
        string tokenFromSecond = await second.LoginAsync("bob");

        await using RelayTestClient carolOnSecond = await RelayTestClient.ConnectAsync(second.RelayUri, "carol",
            configure: o => o.SetRequestHeader("Authorization", "Bearer " + tokenFromFirst));
        await using RelayTestClient bobOnFirst = await RelayTestClient.ConnectAsync(new Uri(first.RelayUri + "?access_token=" + Uri.EscapeDataString(tokenFromSecond)), "bob");

        carolOnSecond.Welcome.GetProperty("user").GetString().Should().Be("carol");
        bobOnFirst.Welcome.GetProperty("user").GetString().Should().Be("bob");
    }

    [Fact]
    public async Task Tokens_SurviveARestart()
    {
        string database = TempDatabase.NewPath();
        string token;
        await using (SampleServer before = await SampleServer.StartAsync(database))
        {
            token = await before.LoginAsync("alice");
        }

        await using SampleServer after = await SampleServer.StartAsync(database);
        await using RelayTestClient client = await RelayTestClient.ConnectAsync(after.RelayUri, "alice",
            configure: o => o.SetRequestHeader("Authorization", "Bearer " + token));

        client.Welcome.GetProperty("user").GetString().Should().Be("alice");
    }

    [Fact]
    public async Task Tokens_AreNeverWrittenToTheLog()
    {
        await using SampleServer server = await SampleServer.StartAsync();
        string token = await server.LoginAsync("alice");
        await using (RelayTestClient client = await RelayTestClient.ConnectAsync(new Uri(server.RelayUri + "?access_token=" + Uri.EscapeDataString(token)), "alice"))
        {
            await client.SendTextAsync("""{"type":"ping","id":"p"}""");
            await client.ExpectAsync("pong");
        }

        using HttpResponseMessage refused = await server.Http.GetAsync("/relay?access_token=" + Uri.EscapeDataString(token[..^4] + "AAAA"));

        server.Logs.Lines.Should().NotBeEmpty();
        server.Logs.Contains("Demo login (no password) as alice").Should().BeTrue();
        string secret = token[..40];
        server.Logs.Lines.Should().NotContain(line => line.Contains(secret, StringComparison.Ordinal), "tokens are secrets");
    }

    [Fact]
    public async Task SeedOption_ReplacesTheData()
    {
        string database = TempDatabase.NewPath();
        await (await SampleServer.StartAsync(database)).DisposeAsync();
        string seed = TempDatabase.WriteSeed("""{"users":["zoe","yann"],"groups":{"ops":["zoe","yann"]},"friends":[["zoe","yann"]]}""");

        await using SampleServer server = await SampleServer.StartAsync(database, "--seed", seed);

        (await server.Http.GetFromJsonAsync<string[]>("/api/users")).Should().Equal("yann", "zoe");
        using HttpResponseMessage alice = await server.Http.PostAsJsonAsync("/api/login", new { user = "alice" });
        alice.StatusCode.Should().Be(HttpStatusCode.NotFound);
        string token = await server.LoginAsync("zoe");
        await using RelayTestClient zoe = await RelayTestClient.ConnectAsync(new Uri(server.RelayUri + "?access_token=" + Uri.EscapeDataString(token)), "zoe");
        zoe.Welcome.GetProperty("groups").EnumerateArray().Select(e => e.GetString()).Should().Equal("ops");
    }

    [Fact]
    public async Task SeedOption_WithAnInvalidFile_FailsBeforeTouchingTheDatabase()
    {
        string database = TempDatabase.NewPath();
        string seed = TempDatabase.WriteSeed("""{"users":["zoe"],"groups":{"ops":["zoe","ghost"]}}""");

        Func<Task> start = () => SampleServer.StartAsync(database, "--seed", seed);

        (await start.Should().ThrowAsync<SampleSeedException>()).Which.Message.Should().Contain("unknown user 'ghost'");
        System.IO.File.Exists(database).Should().BeFalse();
    }

    [Fact]
    public async Task Page_IsServedAtTheRoot_AndImportsTheClientTheRelayServes()
    {
        await using SampleServer server = await SampleServer.StartAsync();

        string html = await server.Http.GetStringAsync("/");
        string app = await server.Http.GetStringAsync("/app.js");
        using HttpResponseMessage client = await server.Http.GetAsync("/relay/client.js");
        using HttpResponseMessage oldCopy = await server.Http.GetAsync("/grouprelay-client.js");

        html.Should().Contain("<title>GroupRelay chat</title>").And.Contain("Demo login, no passwords");
        app.Should().Contain("from '/relay/client.js'");
        client.StatusCode.Should().Be(HttpStatusCode.OK);
        client.Content.Headers.ContentType!.MediaType.Should().Be("text/javascript");
        (await client.Content.ReadAsStringAsync()).Should().Contain("export class GroupRelayClient");
        oldCopy.StatusCode.Should().Be(HttpStatusCode.NotFound, "the sample has no copy of its own any more");
    }

    [Fact]
    public async Task Help_PrintsUsage_AndBadArgumentsFail()
    {
        var output = new System.IO.StringWriter();
        System.IO.TextWriter original = Console.Out;
        Console.SetOut(output);
        int code;
        try
        {
            code = await SampleHost.RunAsync(["--help"]);
        }
        finally
        {
            Console.SetOut(original);
        }

        code.Should().Be(0);
        output.ToString().Should().Contain("--db PATH").And.Contain("--seed FILE.json").And.Contain("--urls URLS");
        Action unknown = () => SampleHostOptions.Parse(["--bogus"]);
        unknown.Should().Throw<ArgumentException>().WithMessage("*unknown argument '--bogus'*");
        Action missing = () => SampleHostOptions.Parse(["--db"]);
        missing.Should().Throw<ArgumentException>().WithMessage("*--db needs a value*");
        output.ToString().Should().Contain("--history-messages N");
        SampleHostOptions.Parse(["--history-messages", "3"]).HistoryMessages.Should().Be(3);
        SampleHostOptions.Parse([]).HistoryMessages.Should().BeNull();
        Action notANumber = () => SampleHostOptions.Parse(["--history-messages=-1"]);
        notANumber.Should().Throw<ArgumentException>().WithMessage("*--history-messages needs a whole number from 0 to 1000000, not '-1'*");
    }
}
