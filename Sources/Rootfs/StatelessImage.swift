import Foundation
import Support

/// Turns an installed Debian tree into CoreOS's shape: minimal (no package manager, no docs),
/// stateless (everything needed to boot under /usr, with a factory copy of /etc there), then
/// split into the read-only /usr filesystem and the writable ROOT filesystem.
public enum StatelessImage {
    /// Where the pristine /etc lives inside /usr (systemd's convention for factory defaults).
    public static let factoryEtc = "usr/share/factory/etc"

    /// Paths removed from every image; globs are matched one path component at a time.
    public static let removedPaths: [String] = [
        // The package manager: an image is updated as a whole, never package by package.
        "usr/bin/dpkg*", "usr/bin/apt*", "usr/sbin/dpkg*", "usr/lib/apt", "usr/lib/dpkg",
        "usr/share/dpkg", "usr/share/apt", "usr/libexec/dpkg", "var/lib/dpkg", "var/lib/apt",
        "var/cache/apt", "var/cache/debconf", "var/cache/ldconfig", "etc/apt", "etc/dpkg",
        "usr/share/bash-completion/completions/dpkg*", "usr/share/bash-completion/completions/apt*",
        // Documentation and translations: only C.UTF-8, which glibc carries built in.
        "usr/share/doc", "usr/share/man", "usr/share/info", "usr/share/locale", "usr/share/lintian",
        "usr/share/linda", "usr/share/bug", "usr/share/doc-base", "usr/share/gtk-doc",
        "usr/share/i18n", "usr/lib/locale/locale-archive",
        // The distribution's initramfs and boot symlinks: coresdk puts kernels on the ESP.
        "boot/*", "initrd.img", "initrd.img.old", "vmlinuz", "vmlinuz.old",
        // Per-machine identity, made on first boot.
        "etc/machine-id", "var/lib/dbus/machine-id", "etc/ssh/ssh_host_*",
        // mmdebstrap copies these from the build host; a machine gets its own from DHCP or cloud-config.
        "etc/hostname", "etc/mailname",
        // Logs and caches of the build itself.
        "var/log/*", "var/cache/*", "var/tmp/*", "tmp/*", "run/*",
    ]

    /// Moves each package's copyright notice to /usr/share/licenses/<package>/ (licences are not
    /// documentation and must ship), then removes everything in `removedPaths`.
    public static func makeMinimal(_ tree: RootfsTree) throws {
        let fm = FileManager.default
        let doc = tree.path("usr/share/doc")
        if let packages = try? fm.contentsOfDirectory(atPath: doc.path) {
            for package in packages.sorted() {
                let copyright = doc.appendingPathComponent(package).appendingPathComponent("copyright")
                guard fm.fileExists(atPath: copyright.path) else { continue }
                let destination = tree.path("usr/share/licenses/\(package)")
                try fm.createDirectory(at: destination, withIntermediateDirectories: true)
                try? fm.removeItem(at: destination.appendingPathComponent("copyright"))
                try fm.copyItem(at: copyright, to: destination.appendingPathComponent("copyright"))
            }
        }
        for pattern in removedPaths {
            for url in try expand(pattern, in: tree) { try fm.removeItem(at: url) }
        }
    }

    /// Keeps a copy of /etc under /usr so a wiped ROOT can be restored from the read-only image.
    public static func keepFactoryEtc(_ tree: RootfsTree) throws {
        let factory = tree.path(factoryEtc)
        try? FileManager.default.removeItem(at: factory)
        try FileManager.default.createDirectory(at: factory.deletingLastPathComponent(),
                                                withIntermediateDirectories: true)
        try Command.run(["cp", "-a", "--no-target-directory", tree.path("etc").path, factory.path])
    }

    /// Moves /usr's contents to `usr` and everything else to `root`, leaving an empty /usr
    /// mount point in ROOT. Both destinations must not exist yet.
    public static func split(_ tree: RootfsTree, usr: URL, root: URL) throws {
        let fm = FileManager.default
        try fm.moveItem(at: tree.path("usr"), to: usr)
        try fm.createDirectory(at: tree.path("usr"), withIntermediateDirectories: false)
        var info = stat()
        stat(usr.path, &info)
        chmod(tree.path("usr").path, info.st_mode & 0o7777)
        var times = [info.st_atim, info.st_mtim]
        utimensat(AT_FDCWD, tree.path("usr").path, &times, 0)
        try fm.moveItem(at: tree.root, to: root)
    }

    /// Removes the kernel images from /boot after handing them to the caller: the kernel is
    /// booted from the ESP, not from the root filesystem.
    public static func takeKernel(from tree: RootfsTree, to destination: URL) throws -> String {
        let boot = tree.path("boot")
        let kernels = (try? FileManager.default.contentsOfDirectory(atPath: boot.path))?
            .filter { $0.hasPrefix("vmlinuz-") }.sorted() ?? []
        guard let newest = kernels.last else {
            throw SupportError("no kernel: the kernel recipe installed no /boot/vmlinuz-*")
        }
        try? FileManager.default.removeItem(at: destination)
        try FileManager.default.copyItem(at: boot.appendingPathComponent(newest), to: destination)
        return String(newest.dropFirst("vmlinuz-".count))
    }

    static func expand(_ pattern: String, in tree: RootfsTree) throws -> [URL] {
        var matches = [tree.root]
        for component in pattern.split(separator: "/").map(String.init) {
            var next: [URL] = []
            for directory in matches {
                if component.contains("*") {
                    let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
                    next += names.filter { fnmatch(component, $0, 0) == 0 }.sorted()
                        .map { directory.appendingPathComponent($0) }
                } else {
                    let candidate = directory.appendingPathComponent(component)
                    var info = stat()
                    if lstat(candidate.path, &info) == 0 { next.append(candidate) }
                }
            }
            matches = next
        }
        return matches
    }
}
