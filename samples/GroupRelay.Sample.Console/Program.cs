using System.Threading.Tasks;
using GroupRelay.Sample;

// The GroupRelay sample chat. Everything is in SampleHost, so the tests can start the same host in-process.
return await SampleHost.RunAsync(args);
