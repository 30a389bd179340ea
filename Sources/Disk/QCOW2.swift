import Foundation
import Support

/// qcow2 versions of raw disk images through qemu-img, the format QEMU and most clouds take.
public enum QCOW2 {
    /// Converts `raw` to qcow2 at `qcow2`; a failed or interrupted conversion leaves no file there.
    public static func convert(raw: URL, to qcow2: URL) throws {
        _ = try AtomicFile.produce(qcow2) { temporary in
            try Command.run(["qemu-img", "convert", "-f", "raw", "-O", "qcow2", raw.path, temporary.path])
        }
    }

    /// Throws unless `qemu-img check` finds no corruption and no leaked clusters.
    public static func check(_ image: URL) throws {
        do {
            try Command.run(["qemu-img", "check", "-f", "qcow2", image.path])
        } catch let failure as CommandFailure {
            throw SupportError("qemu-img check found problems in \(image.path):\n\(failure.standardError)")
        }
    }

    /// Throws unless both images (raw or qcow2, in any mix) hold the same guest-visible bytes.
    public static func compare(_ first: URL, _ second: URL) throws {
        // Formats named explicitly: qemu-img warns about and restricts probed raw images.
        let arguments = ["qemu-img", "compare", "-f", try DiskImage.Format(of: first).rawValue,
                         "-F", try DiskImage.Format(of: second).rawValue, first.path, second.path]
        do {
            try Command.run(arguments)
        } catch let failure as CommandFailure where failure.status == 1 {
            // Exit status 1 is "images differ"; 2 and up are errors, reported as they are.
            throw SupportError("\(first.path) and \(second.path) differ: \(failure.standardError)")
        }
    }
}
