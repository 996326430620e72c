using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Threading;
using System.Threading.Channels;
using System.Threading.Tasks;

namespace GroupRelay.LoadTest;

/// <summary>A server or client process with line-based stdin/stdout, its stderr kept for error messages.</summary>
internal sealed class ChildProcess : IDisposable
{
    /// <summary>
    /// Set to a log level (<c>Warning</c>, <c>Information</c>, ...) to have the GroupRelay servers log at that level; the
    /// orchestrator then prints every child's stderr line as it comes, prefixed with the child's pid.
    /// </summary>
    public const string LogVariable = "GROUPRELAY_BENCH_LOG";

    private static readonly bool PassOnStderr = !string.IsNullOrEmpty(Environment.GetEnvironmentVariable(LogVariable));
    private readonly Process _process;
    private readonly Channel<string> _lines = Channel.CreateUnbounded<string>();
    private readonly Queue<string> _stderr = new();

    private ChildProcess(Process process) => _process = process;

    public int Id => _process.Id;

    public bool HasExited => _process.HasExited;

    public int ExitCode => _process.ExitCode;

    /// <summary>Starts <paramref name="command"/> on the given core (taskset -c) when <paramref name="core"/> is set.</summary>
    public static ChildProcess Start(IReadOnlyList<string> command, int? core)
    {
        var info = new ProcessStartInfo
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        if (core is int c)
        {
            info.FileName = "taskset";
            info.ArgumentList.Add("-c");
            info.ArgumentList.Add(c.ToString(System.Globalization.CultureInfo.InvariantCulture));
            info.ArgumentList.Add(command[0]);
        }
        else
        {
            info.FileName = command[0];
        }

        for (int i = 1; i < command.Count; i++)
        {
            info.ArgumentList.Add(command[i]);
        }

        // Loopback only; the children need no proxy and must never pick one up from the environment.
        info.Environment.Remove("HTTP_PROXY");
        info.Environment.Remove("HTTPS_PROXY");
        info.Environment.Remove("ALL_PROXY");
        info.Environment["DOTNET_gcServer"] = "0";

        // Pinned to one core, a process sees one processor, and the runtime then multiplies its tiering delay by 10: call
        // counting, the step that promotes hot methods to optimised (tier-1) code, waits until no new method was
        // compiled for a whole second. A server that keeps meeting new code paths now and then never gets there: in a
        // 22 s run of the Redis pair, node A had not promoted a single method to tier 1 (DOTNET_JitDisasmSummary), and
        // the lite-client SignalR ran at half speed too. A real server has more than one core, so every process gets
        // the multi-core delay back.
        info.Environment["DOTNET_TC_DelaySingleProcMultiplier"] = "1";
        var process = new Process { StartInfo = info };
        var child = new ChildProcess(process);
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null)
            {
                child._lines.Writer.TryComplete();
            }
            else
            {
                child._lines.Writer.TryWrite(e.Data);
            }
        };
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is null)
            {
                return;
            }

            if (PassOnStderr)
            {
                Console.Error.WriteLine($"[pid {process.Id}] {e.Data}");
            }

            lock (child._stderr)
            {
                child._stderr.Enqueue(e.Data);
                if (child._stderr.Count > 20)
                {
                    child._stderr.Dequeue();
                }
            }
        };
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return child;
    }

    public string StderrTail()
    {
        lock (_stderr)
        {
            return _stderr.Count == 0 ? "(no output on stderr)" : string.Join(Environment.NewLine, _stderr);
        }
    }

    /// <summary>The next stdout line, or null when the process closed stdout or <paramref name="timeout"/> passed.</summary>
    public async Task<string?> ReadLineAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            return await _lines.Reader.ReadAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            return null;
        }
        catch (ChannelClosedException)
        {
            return null;
        }
    }

    public async Task WriteLineAsync(string line)
    {
        if (!_process.HasExited)
        {
            await _process.StandardInput.WriteLineAsync(line);
            await _process.StandardInput.FlushAsync();
        }
    }

    public async Task<bool> WaitForExitAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await _process.WaitForExitAsync(cts.Token);
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    /// <summary>Asks the process to quit (stdin), then kills it if it has not exited in time.</summary>
    public async Task StopAsync(TimeSpan timeout)
    {
        try
        {
            await WriteLineAsync("quit");
            _process.StandardInput.Close();
        }
        catch (Exception ex) when (ex is System.IO.IOException or InvalidOperationException)
        {
        }

        if (!await WaitForExitAsync(timeout))
        {
            Kill();
        }
    }

    public void Kill()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
            }
        }
        catch (InvalidOperationException)
        {
        }
    }

    public void Dispose()
    {
        Kill();
        _process.Dispose();
    }
}
