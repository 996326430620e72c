using System;
using System.IO;
using System.Linq;
using System.Net;
using System.Net.Http;
using System.Net.Http.Headers;
using System.Text.Json;
using System.Threading.Tasks;
using FluentAssertions;
using GroupRelay.Specification.Tests;
using Xunit;

namespace GroupRelay.Sample.Tests;

public sealed class FleckSampleTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(15);

    [Fact]
    public void Options_Defaults_AndBadValues()
    {
        FleckSampleOptions defaults = FleckSampleOptions.Parse([]);
        defaults.Port.Should().Be(8181);
        defaults.DatabasePath.Should().Be("grouprelay-sample.db");
        defaults.SeedPath.Should().BeNull();
        defaults.TokensOutPath.Should().BeNull();

        FleckSampleOptions given = FleckSampleOptions.Parse(["--port=9000", "--db", "x.db", "--seed", "s.json", "--tokens-out", "t.json", "--help"]);
        given.Port.Should().Be(9000);
        given.DatabasePath.Should().Be("x.db");
        given.SeedPath.Should().Be("s.json");
        given.TokensOutPath.Should().Be("t.json");
        given.ShowHelp.Should().BeTrue();

        FluentActions.Invoking(() => FleckSampleOptions.Parse(["--port", "70000"])).Should().Throw<ArgumentException>().WithMessage("*--port*70000*");
        FluentActions.Invoking(() => FleckSampleOptions.Parse(["--port", "-1"])).Should().Throw<ArgumentException>();
        FluentActions.Invoking(() => FleckSampleOptions.Parse(["--tokens-out"])).Should().Throw<ArgumentException>().WithMessage("*--tokens-out needs a value*");
        FluentActions.Invoking(() => FleckSampleOptions.Parse(["--urls", "x"])).Should().Throw<ArgumentException>().WithMessage("*unknown argument '--urls'*");

        defaults.HttpPort.Should().Be(8180);
        FleckSampleOptions.Parse(["--port", "0"]).HttpPort.Should().Be(0, "a free relay port comes with a free HTTP port");
        FleckSampleOptions.Parse(["--http-port", "9001"]).HttpPort.Should().Be(9001);
        FleckSampleOptions.Parse(["--http-port", "off"]).HttpPort.Should().BeNull();
        FluentActions.Invoking(() => FleckSampleOptions.Parse(["--http-port", "on"])).Should().Throw<ArgumentException>().WithMessage("*--http-port*'on'*");
    }

    [Fact]
    public async Task HttpSide_ServesTheJavaScriptClient_WithAnETag_AndNothingElse()
    {
        await using FleckSampleServer server = await FleckSampleServer.StartAsync();
        ClientScriptServer served = server.Host.ClientScript!;
        using var http = new HttpClient { Timeout = Timeout };

        using HttpResponseMessage script = await http.GetAsync(served.ScriptUri);
        script.StatusCode.Should().Be(HttpStatusCode.OK);
        script.Content.Headers.ContentType!.ToString().Should().Be("text/javascript; charset=utf-8");
        (await script.Content.ReadAsByteArrayAsync()).Should().Equal(await File.ReadAllBytesAsync(Path.Combine(RepositoryRoot(), "clients", "js", "client.js")));
        script.Headers.CacheControl!.NoCache.Should().BeTrue();
        script.Headers.GetValues("Access-Control-Allow-Origin").Single().Should().Be("*");

        using var conditional = new HttpRequestMessage(HttpMethod.Get, served.ScriptUri);
        conditional.Headers.IfNoneMatch.Add(script.Headers.ETag!);
        using HttpResponseMessage notModified = await http.SendAsync(conditional);
        notModified.StatusCode.Should().Be(HttpStatusCode.NotModified);

        using HttpResponseMessage types = await http.GetAsync(new Uri(served.ScriptUri, "client.d.ts"));
        types.StatusCode.Should().Be(HttpStatusCode.OK);
        (await types.Content.ReadAsStringAsync()).Should().Contain("export declare class GroupRelayClient");

        using HttpResponseMessage head = await http.SendAsync(new HttpRequestMessage(HttpMethod.Head, served.ScriptUri));
        head.StatusCode.Should().Be(HttpStatusCode.OK);
        head.Content.Headers.ContentLength.Should().Be(script.Content.Headers.ContentLength);

        using HttpResponseMessage other = await http.GetAsync(new Uri(served.ScriptUri, "/"));
        other.StatusCode.Should().Be(HttpStatusCode.NotFound);
        using HttpResponseMessage post = await http.PostAsync(served.ScriptUri, new StringContent("x"));
        post.StatusCode.Should().Be(HttpStatusCode.MethodNotAllowed);
    }

    [Fact]
    public async Task HttpSide_Off_ServesNothing()
    {
        await using FleckSampleServer server = await FleckSampleServer.StartAsync(null, "--http-port", "off");
        server.Host.ClientScript.Should().BeNull();
    }

    private static string RepositoryRoot()
    {
        for (DirectoryInfo? directory = new(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "GroupRelay.sln")))
            {
                return directory.FullName;
            }
        }

        throw new InvalidOperationException("The tests run from inside the repository: no GroupRelay.sln above " + AppContext.BaseDirectory);
    }

    [Fact]
    public async Task TokensOut_WritesATokenPerUser_AndAliceAndBobChatInTeam()
    {
        await using FleckSampleServer fleck = await FleckSampleServer.StartAsync();

        fleck.Port.Should().BeGreaterThan(0);
        fleck.Tokens.Keys.Should().BeEquivalentTo("alice", "bob", "carol", "dave", "erin");
        fleck.Tokens.Values.Should().OnlyHaveUniqueItems().And.AllSatisfy(token => token.Should().NotBeNullOrEmpty());
        if (!OperatingSystem.IsWindows())
        {
            File.GetUnixFileMode(fleck.TokensPath).Should().Be(UnixFileMode.UserRead | UnixFileMode.UserWrite, "the tokens file holds secrets");
        }

        // alice with ?access_token= (as a browser), bob with the Authorization header.
        await using RelayTestClient alice = await RelayTestClient.ConnectAsync(fleck.RelayUriWithToken(fleck.Tokens["alice"]), "alice");
        await using RelayTestClient bob = await RelayTestClient.ConnectAsync(fleck.RelayUri, "bob",
            configure: o => o.SetRequestHeader("Authorization", "Bearer " + fleck.Tokens["bob"]));
        alice.Welcome.GetProperty("user").GetString().Should().Be("alice");
        alice.Welcome.GetProperty("groups").EnumerateArray().Select(g => g.GetString()).Should().Contain("team");
        bob.Welcome.GetProperty("user").GetString().Should().Be("bob");

        await alice.SendAsync(new { type = "send", id = "a1", group = "team", body = new { text = "hi bob" } });
        JsonElement ack = await alice.ExpectAsync("ack", f => f.TryGetProperty("id", out JsonElement id) && id.GetString() == "a1");
        JsonElement message = await bob.ExpectAsync("message");
        message.GetProperty("group").GetString().Should().Be("team");
        message.GetProperty("from").GetString().Should().Be("alice");
        message.GetProperty("body").GetProperty("text").GetString().Should().Be("hi bob");
        message.GetProperty("seq").GetInt64().Should().Be(ack.GetProperty("seq").GetInt64());

        await bob.SendAsync(new { type = "send", group = "team", body = new { text = "hi alice" } });
        JsonElement reply = await alice.ExpectAsync("message", f => f.GetProperty("from").GetString() == "bob");
        reply.GetProperty("body").GetProperty("text").GetString().Should().Be("hi alice");

        fleck.Logs.Lines.Should().NotContain(line => fleck.Tokens.Values.Any(token => line.Contains(token, StringComparison.Ordinal)), "tokens are never logged");
    }

    [Theory]
    [InlineData("not-a-token")]
    [InlineData("")]
    [InlineData(null)]
    public async Task BadOrMissingToken_IsClosedWith4003(string? token)
    {
        await using FleckSampleServer fleck = await FleckSampleServer.StartAsync();
        Uri uri = token is null ? fleck.RelayUri : new Uri(fleck.RelayUri + "?access_token=" + Uri.EscapeDataString(token));

        await using RelayTestClient client = await RelayTestClient.ConnectAsync(uri, "nobody", waitForWelcome: false);

        (await client.WaitForCloseAsync(Timeout)).Should().Be(4003);
        client.Socket.CloseStatusDescription.Should().Be("unauthorized");
    }

    [Fact]
    public async Task AForgedOrTamperedToken_IsClosedWith4003()
    {
        await using FleckSampleServer fleck = await FleckSampleServer.StartAsync();
        string token = fleck.Tokens["alice"];
        string tampered = token[..^4] + (token[^4] == 'A' ? 'B' : 'A') + token[^3..];

        await using RelayTestClient client = await RelayTestClient.ConnectAsync(fleck.RelayUriWithToken(tampered), "alice", waitForWelcome: false);

        (await client.WaitForCloseAsync(Timeout)).Should().Be(4003);
    }

    [Fact]
    public async Task AnotherDatabase_HasAnotherKeyRing_SoItsTokensAreRefused()
    {
        await using FleckSampleServer one = await FleckSampleServer.StartAsync();
        await using FleckSampleServer other = await FleckSampleServer.StartAsync();

        await using RelayTestClient client = await RelayTestClient.ConnectAsync(other.RelayUriWithToken(one.Tokens["alice"]), "alice", waitForWelcome: false);

        (await client.WaitForCloseAsync(Timeout)).Should().Be(4003);
    }

    [Fact]
    public async Task SharedDatabase_ConsoleTokensWorkOnFleck_AndFleckTokensWorkOnTheConsoleApiAndRelay()
    {
        await using SampleServer console = await SampleServer.StartAsync();
        await using FleckSampleServer fleck = await FleckSampleServer.StartAsync(console.DatabasePath);

        // A token from the console sample's login, on the Fleck relay.
        string carolToken = await console.LoginAsync("carol");
        await using (RelayTestClient carol = await RelayTestClient.ConnectAsync(fleck.RelayUriWithToken(carolToken), "carol"))
        {
            carol.Welcome.GetProperty("user").GetString().Should().Be("carol");
        }

        // A token from the Fleck sample's tokens file, on the console sample's API (the page's friends call) and relay.
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/me/friends");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", fleck.Tokens["alice"]);
        using HttpResponseMessage response = await console.Http.SendAsync(request);
        response.StatusCode.Should().Be(HttpStatusCode.OK);
        using JsonDocument friends = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        friends.RootElement.GetProperty("friends").EnumerateArray().Select(f => f.GetString()).Should().Contain("bob");

        await using RelayTestClient alice = await RelayTestClient.ConnectAsync(new Uri(console.RelayUri + "?access_token=" + Uri.EscapeDataString(fleck.Tokens["alice"])), "alice");
        alice.Welcome.GetProperty("user").GetString().Should().Be("alice");

        // A Fleck token that was tampered with is refused by the console API too.
        using var bad = new HttpRequestMessage(HttpMethod.Get, "/api/me");
        bad.Headers.Authorization = new AuthenticationHeaderValue("Bearer", fleck.Tokens["alice"][..^2]);
        using HttpResponseMessage refused = await console.Http.SendAsync(bad);
        refused.StatusCode.Should().Be(HttpStatusCode.Unauthorized);
    }

    [Fact]
    public async Task Seed_ReplacesTheUsers_AndTheTokensFileFollows()
    {
        string seed = TempDatabase.WriteSeed("""{"users":["zoe","yann"],"groups":{"ops":["zoe","yann"]},"friends":[["zoe","yann"]]}""");
        await using FleckSampleServer fleck = await FleckSampleServer.StartAsync(null, "--seed", seed);

        fleck.Tokens.Keys.Should().BeEquivalentTo("yann", "zoe");
        await using RelayTestClient zoe = await RelayTestClient.ConnectAsync(fleck.RelayUriWithToken(fleck.Tokens["zoe"]), "zoe");
        zoe.Welcome.GetProperty("groups").EnumerateArray().Select(g => g.GetString()).Should().Equal("ops");
        fleck.Logs.Contains("Replaced the data in").Should().BeTrue();
        Directory.Delete(Path.GetDirectoryName(seed)!, recursive: true);
    }

    [Fact]
    public async Task Stopping_ClosesClientsWith1001()
    {
        FleckSampleServer fleck = await FleckSampleServer.StartAsync();
        try
        {
            await using RelayTestClient alice = await RelayTestClient.ConnectAsync(fleck.RelayUriWithToken(fleck.Tokens["alice"]), "alice");

            Task stopping = fleck.DisposeAsync().AsTask();

            (await alice.WaitForCloseAsync(Timeout)).Should().Be(1001);
            await stopping.WaitAsync(Timeout);
        }
        finally
        {
            await fleck.DisposeAsync();
        }
    }
}
