import Foundation
import Glibc
import Testing
@testable import Transcode

/// A fresh folder for one test, removed afterwards.
private func withFolder<T>(_ body: (String) throws -> T) throws -> T {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("vqueue-unit-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: false)
    defer { try? FileManager.default.removeItem(atPath: folder) }
    return try body(folder)
}

private func write(_ text: String, to fd: Int32) {
    _ = text.withCString { Glibc.write(fd, $0, strlen($0)) }
}

private func contents(_ path: String) -> String? {
    FileManager.default.contents(atPath: path).map { String(decoding: $0, as: UTF8.self) }
}

@Suite("Temporary outputs are created safely and published without clobbering")
struct TemporaryOutputTests {
    @Test("the temporary name is hidden, tagged, random, and the file private")
    func nameAndMode() throws {
        try withFolder { folder in
            let temporary = try TemporaryOutput(for: folder + "/out.mp4", tag: "job7-2")
            let pattern = try Regex(#"^\.out\.mp4\.job7-2\.[0-9a-f]{16}\.part$"#)
            #expect(temporary.name.wholeMatch(of: pattern) != nil, "\(temporary.name)")
            let other = try TemporaryOutput(for: folder + "/out.mp4", tag: "job7-2")
            #expect(other.name != temporary.name)
            var status = stat()
            #expect(lstat(temporary.path, &status) == 0)
            #expect(status.st_mode & 0o777 == 0o600)
            #expect(status.st_mode & S_IFMT == S_IFREG)
        }
    }

    @Test("a long OUT name is cut so the temporary name fits the file system")
    func longNameFits() throws {
        try withFolder { folder in
            let name = String(repeating: "日本語", count: 27) + ".mp4"
            let temporary = try TemporaryOutput(for: folder + "/" + name, tag: "job123456-3")
            #expect(temporary.name.utf8.count <= 255)
            #expect(temporary.name.hasSuffix(".part"))
        }
    }

    @Test("publishing moves the file into place with the mode any new file gets")
    func publish() throws {
        try withFolder { folder in
            let output = folder + "/out.mp4"
            let temporary = try TemporaryOutput(for: output, tag: "t")
            write("video", to: temporary.descriptor)
            try temporary.publish(overwrite: false)
            #expect(contents(output) == "video")
            #expect(!FileManager.default.fileExists(atPath: temporary.path))
            #expect(temporary.isPublished)
            #expect(TemporaryOutput.isPublished(output: output, identity: temporary.identity))
            var status = stat()
            #expect(stat(output, &status) == 0)
            #expect(status.st_mode & 0o777 == 0o666 & ~TemporaryOutput.processUmask)
        }
    }

    @Test("an OUT that appeared meanwhile is left untouched without overwrite")
    func outputAppeared() throws {
        try withFolder { folder in
            let output = folder + "/out.mp4"
            let temporary = try TemporaryOutput(for: output, tag: "t")
            write("new", to: temporary.descriptor)
            try "someone else's".write(toFile: output, atomically: false, encoding: .utf8)
            #expect(throws: TranscodeError.outputAppeared) { try temporary.publish(overwrite: false) }
            #expect(contents(output) == "someone else's")
            #expect(!temporary.isPublished)
            temporary.discard()
            #expect(try FileManager.default.contentsOfDirectory(atPath: folder) == ["out.mp4"])
        }
    }

    @Test("with overwrite a symlink at OUT is replaced, never followed")
    func overwriteReplacesSymlink() throws {
        try withFolder { folder in
            let victim = folder + "/victim"
            try "precious".write(toFile: victim, atomically: false, encoding: .utf8)
            let output = folder + "/out.mp4"
            #expect(symlink(victim, output) == 0)
            let temporary = try TemporaryOutput(for: output, tag: "t")
            write("video", to: temporary.descriptor)
            try temporary.publish(overwrite: true)
            #expect(contents(victim) == "precious")
            var status = stat()
            #expect(lstat(output, &status) == 0 && status.st_mode & S_IFMT == S_IFREG)
        }
    }

    @Test("without overwrite a dangling symlink at OUT counts as there")
    func danglingSymlinkIsThere() throws {
        try withFolder { folder in
            let output = folder + "/out.mp4"
            #expect(symlink(folder + "/nowhere", output) == 0)
            let temporary = try TemporaryOutput(for: output, tag: "t")
            #expect(throws: TranscodeError.outputAppeared) { try temporary.publish(overwrite: false) }
            #expect(!FileManager.default.fileExists(atPath: folder + "/nowhere"))
            temporary.discard()
        }
    }

    @Test("a file swapped in at the temporary name is neither published nor removed")
    func swappedTemporaryIsLeftAlone() throws {
        try withFolder { folder in
            let output = folder + "/out.mp4"
            let temporary = try TemporaryOutput(for: output, tag: "t")
            #expect(unlink(temporary.path) == 0)
            try "planted".write(toFile: temporary.path, atomically: false, encoding: .utf8)
            #expect(throws: TranscodeError.self) { try temporary.publish(overwrite: true) }
            #expect(!FileManager.default.fileExists(atPath: output))
            temporary.discard()
            #expect(contents(temporary.path) == "planted")
        }
    }

    @Test("stale temporary files of one tag are removed, nothing else")
    func removeStale() throws {
        try withFolder { folder in
            let output = folder + "/out.mp4"
            let stale = try TemporaryOutput(for: output, tag: "job5-1")
            let otherAttempt = try TemporaryOutput(for: output, tag: "job5-2")
            let lookalike = folder + "/.out.mp4.job5-1.notrandomatall.part"
            try "x".write(toFile: lookalike, atomically: false, encoding: .utf8)
            let linkName = folder + "/.out.mp4.job5-1.0123456789abcdef.part"
            #expect(symlink(folder + "/elsewhere", linkName) == 0)
            let removed = TemporaryOutput.removeStale(for: output, tag: "job5-1")
            #expect(removed == [stale.name])
            let left = Set(try FileManager.default.contentsOfDirectory(atPath: folder))
            #expect(left == [otherAttempt.name, ".out.mp4.job5-1.notrandomatall.part", ".out.mp4.job5-1.0123456789abcdef.part"])
        }
    }

    @Test("a name longer than the file system takes is refused as an output name")
    func tooLongName() throws {
        try withFolder { folder in
            let output = folder + "/" + String(repeating: "a", count: 300) + ".mp4"
            #expect { try TemporaryOutput(for: output, tag: "t") } throws: { ($0 as? TranscodeError)?.code == "output_name" }
            #expect { try OutputTarget.validate(input: "/nonexistent", output: output, overwrite: false) } throws: {
                ($0 as? TranscodeError)?.code == "output_name"
            }
            #expect((try? FileManager.default.contentsOfDirectory(atPath: folder))?.isEmpty == true)
        }
    }

    /// A compromised transcoder could plant a link (which whoever serves the folder would follow
    /// to a file outside it) or a FIFO (on which flushing the folder before the rename would block
    /// for ever) in an HLS ladder's temporary folder: publishing refuses both, at once.
    @Test("a folder output holding a link, a hard link or a FIFO is refused at publish, without blocking, and nothing is published",
          arguments: ["link", "hard link", "fifo"])
    func folderWithIrregularEntryIsRefused(_ kind: String) throws {
        try withFolder { folder in
            let temporary = try TemporaryFolder(for: folder + "/out.hls", tag: "job9-1")
            let rung = folder + "/" + temporary.name + "/240p"
            try FileManager.default.createDirectory(atPath: rung, withIntermediateDirectories: false)
            #expect(FileManager.default.createFile(atPath: rung + "/index.m3u8", contents: Data("#EXTM3U\n".utf8)))
            switch kind {
            case "link": #expect(symlink("/etc/passwd", rung + "/seg0.m4s") == 0)
            case "hard link":
                #expect(FileManager.default.createFile(atPath: folder + "/elsewhere.txt", contents: Data("private".utf8)))
                #expect(link(folder + "/elsewhere.txt", rung + "/seg0.m4s") == 0)
            default: #expect(mkfifo(rung + "/seg0.m4s", 0o600) == 0)
            }
            do throws(TranscodeError) {
                try temporary.publish(overwrite: false)
                Issue.record("published a folder holding a \(kind)")
            } catch {
                #expect(error.description.contains("240p/seg0.m4s") && error.description.contains("not a plain file"),
                        "\(error)")
            }
            #expect(!FileManager.default.fileExists(atPath: folder + "/out.hls"), "nothing published")
            temporary.discard()
            #expect(try FileManager.default.contentsOfDirectory(atPath: folder).filter { $0 != "elsewhere.txt" }.isEmpty,
                    "discard removes it all")
        }
    }
}
