using CodexLb.Silo.Hosting;
using Microsoft.Extensions.Options;

try
{
    var app = await SiloApp.BuildAsync(args);
    await app.RunAsync();
    return 0;
}
catch (OptionsValidationException ex)
{
    // A bad setting: one line naming the key, no stack trace.
    await Console.Error.WriteLineAsync("codexlb-silo: configuration error: " + ex.Message);
    return 2;
}
