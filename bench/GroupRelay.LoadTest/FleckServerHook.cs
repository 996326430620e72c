using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Threading.Tasks;

namespace GroupRelay.LoadTest;

/// <summary>
/// GroupRelay on Fleck. Fleck 1.2.0 is not on every NuGet feed (GroupRelay.NoFleck.slnf exists for that reason), so
/// its server is a separate project, bench/GroupRelay.LoadTest.FleckServer, kept out of GroupRelay.sln and built here
/// on demand. It speaks the same server-process contract
/// (<see cref="Servers.ServerProcess"/>). When the transport is missing or the project does not build, the system is
/// skipped with one line, and the run goes on.
/// </summary>
internal sealed class FleckServerHook
{
    private readonly string _root;
    private List<string>? _command;
    private bool _tried;

    public FleckServerHook(string root) => _root = root;

    public string SkipReason { get; private set; } = string.Empty;

    public async Task<List<string>?> CommandAsync(Action<string> log)
    {
        if (_tried)
        {
            return _command is null ? null : new List<string>(_command);
        }

        _tried = true;
        string transport = Path.Combine(_root, "src", "GroupRelay.Transports.Fleck", "GroupRelay.Transports.Fleck.csproj");
        string project = Path.Combine(_root, "bench", "GroupRelay.LoadTest.FleckServer", "GroupRelay.LoadTest.FleckServer.csproj");
        if (!File.Exists(transport))
        {
            SkipReason = "src/GroupRelay.Transports.Fleck is not in this tree";
            return null;
        }

        string output = Path.Combine(_root, "bench", "GroupRelay.LoadTest.FleckServer", "bin", "loadtest");
        log("building the Fleck server (Fleck 1.2.0 must be restorable)");
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string arg in new[] { "build", project, "-c", "Release", "-o", output, "--nologo", "-v", "quiet" })
        {
            info.ArgumentList.Add(arg);
        }

        using Process build = Process.Start(info)!;
        Task<string> stdout = build.StandardOutput.ReadToEndAsync();
        Task<string> stderr = build.StandardError.ReadToEndAsync();
        bool exited = await Task.Run(() => build.WaitForExit(TimeSpan.FromMinutes(5)));
        if (!exited)
        {
            build.Kill(entireProcessTree: true);
            SkipReason = "building bench/GroupRelay.LoadTest.FleckServer took more than 5 minutes";
            return null;
        }

        if (build.ExitCode != 0)
        {
            string text = (await stdout + await stderr).Trim();
            string firstError = Array.Find(text.Split('\n'), l => l.Contains("error", StringComparison.OrdinalIgnoreCase))?.Trim() ?? text;
            SkipReason = "bench/GroupRelay.LoadTest.FleckServer does not build (is Fleck 1.2.0 restorable from the configured feeds?): " + firstError;
            return null;
        }

        string exe = Path.Combine(output, OperatingSystem.IsWindows() ? "GroupRelay.LoadTest.FleckServer.exe" : "GroupRelay.LoadTest.FleckServer");
        _command = new List<string> { exe };
        return new List<string>(_command);
    }
}
