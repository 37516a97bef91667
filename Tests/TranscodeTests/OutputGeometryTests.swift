import CLibAV
import Testing
@testable import Transcode

@Suite struct OutputGeometryTests {
    private func size(_ width: Int, _ height: Int, sar: (Int32, Int32) = (1, 1), rotation: Int = 0, maxHeight: Int? = nil) -> (Int, Int) {
        VideoProfile.outputSize(width: width, height: height, sampleAspect: AVRational(num: sar.0, den: sar.1),
                                rotation: DisplayRotation(degrees: rotation), maxHeight: maxHeight)
    }

    @Test func oddDimensionsBecomeEven() {
        let (width, height) = size(641, 479)
        #expect(width % 2 == 0 && height % 2 == 0)
        #expect(abs(width - 641) <= 1 && abs(height - 479) <= 1)
    }

    @Test func anamorphicPixelsBecomeSquareWithTheSameDisplayAspect() {
        // DVD widescreen: 720x576 with 64:45 pixels displays as 1024x576.
        let (width, height) = size(720, 576, sar: (64, 45))
        #expect(width == 1024 && height == 576)
    }

    @Test func quarterTurnsSwapWidthAndHeight() {
        #expect(size(320, 180, rotation: 90) == (180, 320))
        #expect(size(320, 180, rotation: 270) == (180, 320))
        #expect(size(320, 180, rotation: 180) == (320, 180))
    }

    @Test func maxHeightScalesDownKeepingAspectButNeverUp() {
        #expect(size(1920, 1080, maxHeight: 360) == (640, 360))
        #expect(size(640, 360, maxHeight: 720) == (640, 360))
        #expect(size(1920, 1080, maxHeight: 120) == (214, 120))
    }

    @Test func rotationFiltersTurnClockwise() {
        #expect(DisplayRotation(degrees: 90).filter == "transpose=clock")
        #expect(DisplayRotation(degrees: 270).filter == "transpose=cclock")
        #expect(DisplayRotation(degrees: 0).filter == nil)
    }

    @Test(arguments: [(Int32(44100), Int32(44100)), (48000, 48000), (22050, 44100), (11025, 44100), (8000, 48000), (96000, 48000)])
    func audioComesOutAt44100Or48000(input: Int32, output: Int32) {
        #expect(AudioProfile.outputSampleRate(for: input) == output)
    }
}
