package io.jvhost.launcher;

import java.util.concurrent.Callable;

import io.jvhost.device.template.TemplateDevice;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

/**
 * {@code jvhost template}: the smallest complete device (the guide for adding one), flag-compatible with rust-vmm's
 * vhost-device-template: {@code -s/--socket-path} is the socket itself, not PATH0.
 */
@Command(name = "template", mixinStandardHelpOptions = true,
    description = {"The template device: the smallest complete back-end, a guide for writing new ones.",
        "Flag-compatible with vhost-device-template. One socket listens on PATH exactly (PATH0..PATH<N-1> with"
            + " --socket-count N).",
        "No guest driver exists; QEMU 11.1: -chardev socket,id=t0,path=PATH"
            + " -device vhost-user-test-device-pci,chardev=t0,virtio-id=ID,num_vqs=1 (a virtio ID of your choosing)"})
final class TemplateCommand implements Callable<Integer>
{
    @CommandLine.Spec
    private CommandLine.Model.CommandSpec spec;

    @Mixin
    private DaemonOptions daemon;

    @Override
    public Integer call()
    {
        return DeviceRunner.run(spec, daemon, "template", false, i -> new TemplateDevice("template" + i));
    }
}
