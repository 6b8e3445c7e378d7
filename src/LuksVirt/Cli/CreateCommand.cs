using System.CommandLine;
using LuksVirt.Core.Containers;
using Spectre.Console;

namespace LuksVirt.Cli;

/// <summary><c>luksvirt create</c>: a new LUKS container with keys for named holders, added to a guest.</summary>
internal static class CreateCommand
{
    public static Command Create(GlobalOptions global)
    {
        var vm = new Option<string>("--vm") { Description = "the guest (libvirt domain) that gets the disk", Required = true };
        var disk = new Option<string>("--disk") { Description = "container: an absolute file path (sparse file), a block device, or VG/LV (lvcreate)", Required = true };
        var size = new Option<string?>("--size") { Description = "size of a new file or LV, e.g. 32G, 512M (powers of 1024)" };
        var backend = BackendOption.Create("who decrypts: auto (dmcrypt where the kernel has dm-crypt, else native), native (QEMU, LUKS1) or dmcrypt (LUKS2)");
        var cipher = new Option<string>("--cipher") { Description = "cipher as cryptsetup writes it", DefaultValueFactory = _ => CipherSpec.DefaultName };
        var luks1 = new Option<bool>("--luks1") { Description = "LUKS1 for a dmcrypt container (native is always LUKS1)" };
        var holders = new Option<string[]>("--holder") { Description = "a key holder: one key each, in slots 0, 1, ... (repeatable); the recovery key takes the highest slot" };
        var quorum = new Option<int?>("--quorum") { Description = "split one key among the holders: any K of them open the container (Shamir's scheme, slot 0; each holder's file is a share, useless alone)" };
        var keysOut = new Option<string>("--keys-out") { Description = "directory for the key files luks-<holder>.<slot>.key (created 0700; files 0600, never overwritten)", Required = true };
        var force = new Option<bool>("--force") { Description = "format an existing file or a device that holds data (destroys it)" };
        var defineDomain = new Option<bool>("--define-domain") { Description = "define a minimal domain (1 GiB, 1 vCPU, no network) when the guest does not exist" };
        var domainType = new Option<string?>("--domain-type") { Description = "domain type for --define-domain: kvm or qemu (TCG); default kvm when /dev/kvm exists" };
        domainType.AcceptOnlyFromAmong("kvm", "qemu");
        var link = new Option<string?>("--link") { Description = "dmcrypt: the link path the domain uses (default IMAGE-DIR/NAME.decrypted)" };
        var json = new Option<bool>("--json") { Description = "print the report as JSON" };

        var command = new Command("create", "create a LUKS container with generated keys for named holders and add it to a guest");
        foreach (var option in new Option[] { vm, disk, size, backend, cipher, luks1, holders, quorum, keysOut, force, defineDomain, domainType, link, json })
        {
            command.Options.Add(option);
        }

        command.SetAction((parse, cancellationToken) => ContainerCommandRun.RunAsync(parse.GetValue(global.Log)!, async (log, token) =>
        {
            CreateRequest request;
            try
            {
                request = new CreateRequest
                {
                    Guest = parse.GetValue(vm)!,
                    Disk = parse.GetValue(disk)!,
                    SizeBytes = parse.GetValue(size) is { } text ? DiskSize.Parse(text) : null,
                    Backend = BackendOption.Parse(parse.GetValue(backend)),
                    Cipher = CipherSpec.Parse(parse.GetValue(cipher)!),
                    Luks1 = parse.GetValue(luks1),
                    Holders = parse.GetValue(holders) ?? [],
                    Quorum = parse.GetValue(quorum),
                    KeysOut = parse.GetValue(keysOut)!,
                    Force = parse.GetValue(force),
                    DefineDomain = parse.GetValue(defineDomain),
                    DomainType = parse.GetValue(domainType),
                    LinkPath = parse.GetValue(link),
                    ConfigPath = parse.GetValue(global.Config),
                    ConnectUri = parse.GetValue(global.Connect)!,
                };
            }
            catch (FormatException e)
            {
                throw new ContainerRefusedException(e.Message, e);
            }

            var report = await new ContainerCreator(log).CreateAsync(request, token).ConfigureAwait(false);
            if (parse.GetValue(json))
            {
                JsonOutput.Write(report, CliJsonContext.Default.CreateReport);
            }
            else
            {
                Render(report);
            }

            return ExitCodes.Success;
        }, cancellationToken));
        return command;
    }

    private static void Render(CreateReport report)
    {
        var table = new Table().AddColumns("", "").HideHeaders();
        table.AddRow("guest", Markup.Escape($"{report.Guest}{(report.DomainDefined ? " (defined now)" : "")}, disk {report.TargetDev} -> {report.DomainDiskPath}"));
        table.AddRow("container", Markup.Escape($"{report.Container} ({report.Kind}, {DiskSize.Describe(report.ContainerBytes)}, payload {DiskSize.Describe(report.PayloadBytes)})"));
        table.AddRow("format", Markup.Escape($"{report.LuksVersion} {report.Cipher}, UUID {report.LuksUuid}, backend {report.Backend}"));
        if (report.Quorum is not null)
        {
            table.AddRow("quorum", Markup.Escape($"key slot 0: {report.Quorum}"));
        }

        if (report.ConfigFile is not null)
        {
            table.AddRow("config", Markup.Escape(report.ConfigFile));
        }

        foreach (var key in report.KeyFiles)
        {
            var role = key.Recovery ? "recovery key" : key.Share ? $"share ({Markup.Escape(key.Holder)})" : $"key ({Markup.Escape(key.Holder)})";
            table.AddRow(role, Markup.Escape($"slot {key.Slot}: {key.Path}"));
        }

        AnsiConsole.Write(table);
        foreach (var warning in report.Warnings)
        {
            AnsiConsole.MarkupLine($"[yellow]warning:[/] {Markup.Escape(warning)}");
        }

        AnsiConsole.MarkupLine("[yellow]Hand the key files to their holders and delete them from this host: a key stored next to the disk protects nothing.[/]");
    }
}
