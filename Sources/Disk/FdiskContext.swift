import CFdisk
import Foundation
import Support

/// A libfdisk return code with what was being done when it came back.
public struct FdiskError: ReportableError {
    public let image: URL
    public let operation: String
    public let code: Int32

    public var details: ErrorDetails {
        // libfdisk returns negative errno values; the name of the errno is what a user can act on.
        ErrorDetails(message: "libfdisk: \(operation): \(code)" + (code < 0 ? " (\(String(cString: strerror(-code))))" : ""),
                     file: image.path)
    }
}

/// The one owner of a libfdisk context (the only file that imports CFdisk). Opens an image file,
/// edits its GPT in memory and writes it with `write()`; the context is freed in `deinit`.
public final class FdiskContext {
    public let image: URL
    private let context: OpaquePointer

    /// Opens `image`; its partition table, if any, is read.
    public init(image: URL, readOnly: Bool = true) throws {
        guard let context = fdisk_new_context() else {
            throw FdiskError(image: image, operation: "creating a context", code: -ENOMEM)
        }
        self.image = image
        self.context = context
        // With no dialog callback set, a missing value would make libfdisk fail anyway; this makes
        // it fail without trying to ask.
        fdisk_disable_dialogs(context, 1)
        try check(fdisk_assign_device(context, image.path, readOnly ? 1 : 0), "opening \(image.path)")
    }

    deinit { fdisk_unref_context(context) }

    /// The libfdisk that writes GPTs, for cache keys.
    public static var libraryVersion: String {
        var version: UnsafePointer<CChar>?
        fdisk_get_library_version(&version)
        return version.map { String(cString: $0) } ?? "unknown"
    }

    /// Replaces whatever is on the image with an empty GPT (and protective MBR), in memory.
    func createGPT(diskGUID: String) throws {
        // cgpt (and so CoreOS) makes LBA 34, right after the entry array, the first usable sector;
        // libfdisk would pick its 1 MiB grain (LBA 2048) instead.
        fdisk_set_first_lba(context, DiskLayout.gptReservedSectors)
        try check(fdisk_create_disklabel(context, "gpt"), "creating a GPT on \(image.path)")
        try check(fdisk_set_disklabel_id_from_string(context, diskGUID), "setting the disk GUID to \(diskGUID)")
    }

    /// Adds `partition` exactly where the layout placed it, then sets its attribute bits.
    func add(_ partition: PlacedPartition) throws {
        let operation = "adding \(partition.name)"
        guard let entry = fdisk_new_partition() else { throw FdiskError(image: image, operation: operation, code: -ENOMEM) }
        defer { fdisk_unref_partition(entry) }
        guard let type = fdisk_label_parse_parttype(fdisk_get_label(context, nil), partition.typeGUID) else {
            throw FdiskError(image: image, operation: "\(operation): parsing type \(partition.typeGUID)", code: -EINVAL)
        }
        defer { fdisk_unref_parttype(type) }
        try check(fdisk_partition_set_partno(entry, partition.number - 1), operation)
        try check(fdisk_partition_set_start(entry, partition.firstLBA), operation)
        try check(fdisk_partition_set_size(entry, partition.sectorCount), operation)
        // Otherwise libfdisk moves the end of any partition larger than its 1 MiB grain to a grain
        // boundary (5000 sectors became 4096, 100001 became 100352); the start is taken as given.
        try check(fdisk_partition_size_explicit(entry, 1), operation)
        try check(fdisk_partition_set_type(entry, type), operation)
        try check(fdisk_partition_set_name(entry, partition.label), operation)
        try check(fdisk_partition_set_uuid(entry, partition.uniqueGUID), operation)
        try check(fdisk_add_partition(context, entry, nil), operation)
        try setAttributes(partition.spec.attributes, ofPartition: partition.number)
    }

    /// The disk GUID of the GPT.
    public func diskGUID() throws -> String {
        var text: UnsafeMutablePointer<CChar>?
        try check(fdisk_get_disklabel_id(context, &text), "reading the disk GUID of \(image.path)")
        defer { free(text) }
        return text.map { String(cString: $0).uppercased() } ?? ""
    }

    /// The used entries, as libfdisk sees them (the same type `GPTReader` returns, to compare).
    public func partitions() throws -> [GPTEntry] {
        try requireGPT()
        // fdisk_get_partition() fails with -EINVAL on an empty slot, so ask first.
        let used = (0..<fdisk_get_npartitions(context)).filter { fdisk_is_partition_used(context, $0) == 1 }
        return try used.map { index in
            var entry: OpaquePointer?
            try check(fdisk_get_partition(context, index, &entry), "reading partition \(index + 1)")
            defer { fdisk_unref_partition(entry) }
            return GPTEntry(number: index + 1,
                            typeGUID: string(fdisk_parttype_get_string(fdisk_partition_get_type(entry))).uppercased(),
                            uniqueGUID: string(fdisk_partition_get_uuid(entry)).uppercased(),
                            name: string(fdisk_partition_get_name(entry)),
                            firstLBA: fdisk_partition_get_start(entry), lastLBA: fdisk_partition_get_end(entry),
                            attributes: try attributes(ofPartition: index + 1))
        }
    }

    public func attributes(ofPartition number: Int) throws -> GPTPartitionAttributes {
        try requireGPT()
        var raw: UInt64 = 0
        try check(fdisk_gpt_get_partition_attrs(context, number - 1, &raw),
                  "reading the attributes of partition \(number)")
        return GPTPartitionAttributes(rawValue: raw)
    }

    /// Changes the attribute bits in memory; `write()` puts them on the image.
    public func setAttributes(_ attributes: GPTPartitionAttributes, ofPartition number: Int) throws {
        try requireGPT()
        try check(fdisk_gpt_set_partition_attrs(context, number - 1, attributes.rawValue),
                  "setting the attributes of partition \(number) to \(attributes)")
    }

    /// Writes the protective MBR and both GPT copies, then fsyncs the image. `nosync` is set on
    /// purpose: without it libfdisk calls sync(2) for the whole machine.
    public func write() throws {
        try check(fdisk_write_disklabel(context), "writing the partition table of \(image.path)")
        try check(fdisk_deassign_device(context, 1), "closing \(image.path)")
    }

    /// Opens `image`, applies `change` to one partition's attributes, writes both GPT copies and
    /// returns the new attributes: how gptprio-style slot switches are done on a built image.
    @discardableResult
    public static func updateAttributes(in image: URL, partition number: Int,
                                        _ change: (inout GPTPartitionAttributes) throws -> Void)
        throws -> GPTPartitionAttributes {
        let fdisk = try FdiskContext(image: image, readOnly: false)
        guard try fdisk.partitions().contains(where: { $0.number == number }) else {
            throw SupportError(file: image.path, "no partition \(number) whose attributes could be changed")
        }
        var attributes = try fdisk.attributes(ofPartition: number)
        try change(&attributes)
        try fdisk.setAttributes(attributes, ofPartition: number)
        try fdisk.write()
        return attributes
    }

    /// libfdisk answers GPT-only calls on other tables with a bare -EINVAL; this says what is wrong.
    private func requireGPT() throws {
        guard fdisk_is_labeltype(context, FDISK_DISKLABEL_GPT) == 1 else {
            throw SupportError(file: image.path, "no GPT partition table")
        }
    }

    private func check(_ code: Int32, _ operation: @autoclosure () -> String) throws {
        if code < 0 { throw FdiskError(image: image, operation: operation(), code: code) }
    }

    private func string(_ text: UnsafePointer<CChar>?) -> String { text.map { String(cString: $0) } ?? "" }
}
