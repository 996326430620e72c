using System.Threading.Tasks;
using GroupRelay.Sample;

// The GroupRelay sample relay on Fleck. Everything is in FleckSampleHost, so the tests can start the same host in-process.
return await FleckSampleHost.RunAsync(args);
