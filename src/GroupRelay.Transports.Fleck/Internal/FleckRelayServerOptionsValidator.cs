using System.Collections.Generic;
using Microsoft.Extensions.Options;

namespace GroupRelay.Transports.Fleck.Internal;

/// <summary>Validates <see cref="FleckRelayServerOptions"/> at start-up; each failure names the option.</summary>
internal sealed class FleckRelayServerOptionsValidator : IValidateOptions<FleckRelayServerOptions>
{
    public ValidateOptionsResult Validate(string? name, FleckRelayServerOptions options)
    {
        var failures = new List<string>();
        if ((options.Authenticate is null) == (options.AuthenticateAsync is null))
        {
            failures.Add($"Set exactly one of {nameof(FleckRelayServerOptions)}.{nameof(FleckRelayServerOptions.Authenticate)} and {nameof(FleckRelayServerOptions.AuthenticateAsync)}: the Fleck transport cannot know who a connection belongs to without it.");
        }

        // Fleck splits the client's Sec-WebSocket-Protocol header on commas and spaces (WebSocketHttpRequest.SubProtocols).
        if (string.IsNullOrWhiteSpace(options.SubProtocol) || options.SubProtocol.IndexOfAny([',', ' ', '\t']) >= 0)
        {
            failures.Add($"{nameof(FleckRelayServerOptions)}.{nameof(FleckRelayServerOptions.SubProtocol)} must be one token without spaces or commas, such as 'grouprelay.v1'.");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
