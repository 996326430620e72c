using System;
using System.Diagnostics;
using System.Text.Json.Serialization;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.AspNetCore.Http.Connections;
using Microsoft.AspNetCore.SignalR.Client;

namespace GroupRelay.LoadTest.Client;

/// <summary>A SignalR client built with Microsoft.AspNetCore.SignalR.Client: JSON protocol, WebSockets only, no negotiation.</summary>
internal sealed class SignalRBenchConnection : IBenchConnection
{
    private readonly HubConnection _connection;
    private readonly TaskCompletionSource _welcome = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private volatile bool _disposing;

    public SignalRBenchConnection(Uri hubUri, string user, DeliverySink sink)
    {
        _connection = new HubConnectionBuilder()
            .WithUrl(hubUri, HttpTransportType.WebSockets, o =>
            {
                o.SkipNegotiation = true;
                o.AccessTokenProvider = () => Task.FromResult<string?>(user);
            })
            .Build();
        _connection.On("welcome", () => _welcome.TrySetResult());
        _connection.Closed += error =>
        {
            if (!_disposing)
            {
                sink.ConnectionLost(error is null ? "closed" : "error: " + error.GetType().Name);
            }

            return Task.CompletedTask;
        };
        _connection.On<string, string, Body>("message", (_, _, body) =>
        {
            if (sink.MeasureLatency)
            {
                sink.Delivered(body.T, Stopwatch.GetTimestamp());
            }
            else
            {
                sink.Delivered(1);
            }
        });
    }

    public async Task ConnectAsync(CancellationToken cancellationToken)
    {
        await _connection.StartAsync(cancellationToken);
        await _welcome.Task.WaitAsync(cancellationToken);
    }

    public ValueTask SendAsync(string group, long sentTimestamp, long counter)
        => new(_connection.SendAsync("Send", group, new Body { T = sentTimestamp, N = counter, X = Payload.Text }));

    public async ValueTask DisposeAsync()
    {
        _disposing = true;
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
            await _connection.StopAsync(timeout.Token);
        }
        catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException or InvalidOperationException)
        {
        }

        await _connection.DisposeAsync();
    }

    /// <summary>The message body, the same JSON as the other systems': <c>{"t":...,"n":...,"x":"..."}</c>.</summary>
    internal sealed class Body
    {
        [JsonPropertyName("t")]
        public long T { get; set; }

        [JsonPropertyName("n")]
        public long N { get; set; }

        [JsonPropertyName("x")]
        public string? X { get; set; }
    }
}
