using System;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.IO;
using System.Text.Json;
using System.Text.RegularExpressions;
using System.Threading.Tasks;
using FluentAssertions;
using GroupRelay.Specification.Tests;
using Xunit;

namespace GroupRelay.Sample.Tests;

/// <summary>The Fleck sample as a real process (the built GroupRelay.Sample.Fleck.dll): help, errors, and a signal stop.</summary>
public sealed class FleckSampleProcessTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    private static string SampleDll => Path.Combine(AppContext.BaseDirectory, "GroupRelay.Sample.Fleck.dll");

    [Fact]
    public async Task Help_PrintsTheOptions_AndABadArgument_Exits2()
    {
        (int helpCode, string helpOut, _) = await RunToEndAsync("--help");
        helpCode.Should().Be(0);
        helpOut.Should().Contain("--port").And.Contain("--db").And.Contain("--seed").And.Contain("--tokens-out");

        (int badCode, _, string badError) = await RunToEndAsync("--nope");
        badCode.Should().Be(2);
        badError.Should().Contain("error: unknown argument '--nope'");
    }

    [Fact]
    public async Task Sigterm_StopsTheRelay_ClientsGet1001_AndTheProcessExits0()
    {
        if (OperatingSystem.IsWindows())
        {
            return; // kill -TERM is POSIX; the host handles Ctrl+C there through the same registration.
        }

        string database = TempDatabase.NewPath();
        string folder = Path.GetDirectoryName(database)!;
        string tokensFile = Path.Combine(folder, "tokens.json");
        using Process process = Start("--port", "0", "--db", database, "--tokens-out", tokensFile);
        var output = new ConcurrentQueue<string>();
        var ready = new TaskCompletionSource<Uri>(TaskCreationOptions.RunContinuationsAsynchronously);
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null)
            {
                return;
            }

            output.Enqueue(e.Data);
            Match match = Regex.Match(e.Data, @"listening on (ws://127\.0\.0\.1:\d+/relay)");
            if (match.Success)
            {
                ready.TrySetResult(new Uri(match.Groups[1].Value));
            }
        };
        process.ErrorDataReceived += (_, e) => output.Enqueue("stderr: " + e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            Uri relay = await ready.Task.WaitAsync(Timeout);
            using JsonDocument tokens = JsonDocument.Parse(await File.ReadAllTextAsync(tokensFile));
            string aliceToken = tokens.RootElement.GetProperty("alice").GetString()!;
            await using RelayTestClient alice = await RelayTestClient.ConnectAsync(new Uri(relay + "?access_token=" + Uri.EscapeDataString(aliceToken)), "alice");

            using (Process kill = Process.Start("kill", ["-TERM", process.Id.ToString()]))
            {
                await kill.WaitForExitAsync();
            }

            (await alice.WaitForCloseAsync(Timeout)).Should().Be(1001);
            await process.WaitForExitAsync().WaitAsync(Timeout);
            process.ExitCode.Should().Be(0, string.Join("\n", output));
            output.Should().Contain(line => line.Contains("Stopping", StringComparison.Ordinal));
            output.Should().NotContain(line => line.Contains(aliceToken, StringComparison.Ordinal), "tokens are never logged");
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill();
            }

            try
            {
                Directory.Delete(folder, recursive: true);
            }
            catch (IOException)
            {
                // Best effort.
            }
        }
    }

    private static Process Start(params string[] args)
    {
        var info = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host ? host : "dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add(SampleDll);
        foreach (string arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        return Process.Start(info)!;
    }

    private static async Task<(int Code, string Out, string Error)> RunToEndAsync(params string[] args)
    {
        using Process process = Start(args);
        Task<string> stdout = process.StandardOutput.ReadToEndAsync();
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(Timeout);
        return (process.ExitCode, await stdout, await stderr);
    }
}
