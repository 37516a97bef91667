import Foundation
import Testing

/// Makes a test pattern video with a tone, long enough to interrupt a transcode halfway
/// (the fixtures are kept short to keep the repository small).
/// With `noisy`, film grain makes every frame expensive, so a bitrate cap visibly bites.
func makeLongSample(in directory: URL, named name: String = "long.mp4", seconds: Int = 20,
                    size: String = "640x360", noisy: Bool = false) async throws -> URL {
    let file = directory.appendingPathComponent(name)
    let result = try await runProcess(Locations.ffmpeg, [
        "-nostdin", "-v", "error",
        "-f", "lavfi", "-i", "testsrc2=size=\(size):rate=25:duration=\(seconds)" + (noisy ? ",noise=alls=20:allf=t" : ""),
        "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=\(seconds)",
        "-c:v", "libx264", "-preset", "ultrafast", "-crf", "18", "-pix_fmt", "yuv420p",
        "-c:a", "aac", "-shortest", file.path,
    ], timeout: .seconds(120))
    try #require(result.exitCode == 0, "could not make a sample: \(result)")
    return file
}

/// A long sample in `directory` and the output a job of it writes: `out/long.mp4`, its folder made.
func makeLongJobFiles(in directory: URL, seconds: Int) async throws -> (input: URL, output: URL) {
    let input = try await makeLongSample(in: directory, seconds: seconds)
    let outputs = directory.appendingPathComponent("out", isDirectory: true)
    try FileManager.default.createDirectory(at: outputs, withIntermediateDirectories: false)
    return (input, outputs.appendingPathComponent("long.mp4"))
}

/// Makes really interlaced video: 50 moving pictures a second woven into 25 top-field-first frames,
/// so every frame shows combing unless it is deinterlaced. (The interlaced.ts fixture is only
/// flagged interlaced; its pictures are progressive, so it cannot show whether vqueue deinterlaces.)
func makeInterlacedSample(in directory: URL, named name: String = "combed.ts") async throws -> URL {
    let file = directory.appendingPathComponent(name)
    let result = try await runProcess(Locations.ffmpeg, [
        "-nostdin", "-v", "error",
        "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=50:duration=2,scroll=h=0.02",
        "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=2",
        "-vf", "tinterlace=mode=interleave_top,setfield=tff",
        "-c:v", "mpeg2video", "-flags", "+ilme+ildct", "-top", "1", "-b:v", "2M",
        "-c:a", "mp2", "-shortest", "-f", "mpegts", file.path,
    ], timeout: .seconds(120))
    try #require(result.exitCode == 0, "could not make an interlaced sample: \(result)")
    return file
}
