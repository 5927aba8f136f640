//! Rendering FPS payloads as QR codes: SVG for pages and print, PNG for
//! downloads. Error correction level M, as banking apps expect, with the
//! four-module quiet zone.

use qrcode::render::svg;
use qrcode::{EcLevel, QrCode};

/// Why a payload could not be rendered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RenderError {
    /// Too long for a QR code at level M.
    #[error("the payload does not fit in a QR code: {0}")]
    TooLong(String),
    /// The PNG encoder failed.
    #[error("PNG encoding failed: {0}")]
    Png(String),
}

fn code(payload: &str) -> Result<QrCode, RenderError> {
    QrCode::with_error_correction_level(payload.as_bytes(), EcLevel::M)
        .map_err(|e| RenderError::TooLong(e.to_string()))
}

/// An SVG image of the payload's QR code, `size` pixels square at least.
pub fn svg(payload: &str, size: u32) -> Result<String, RenderError> {
    Ok(code(payload)?
        .render::<svg::Color<'_>>()
        .min_dimensions(size, size)
        .quiet_zone(true)
        .build())
}

/// A greyscale PNG of the payload's QR code, `scale` pixels per module.
pub fn png(payload: &str, scale: u32) -> Result<Vec<u8>, RenderError> {
    let code = code(payload)?;
    let modules = code.width();
    let scale = scale.clamp(1, 32) as usize;
    let quiet = 4;
    let side = (modules + 2 * quiet) * scale;
    let colors = code.to_colors();
    let mut pixels = vec![255u8; side * side];
    for y in 0..modules {
        for x in 0..modules {
            if colors[y * modules + x] == qrcode::Color::Dark {
                for dy in 0..scale {
                    let row = ((y + quiet) * scale + dy) * side;
                    let start = row + (x + quiet) * scale;
                    pixels[start..start + scale].fill(0);
                }
            }
        }
    }
    let mut out = Vec::new();
    {
        let side = u32::try_from(side).map_err(|e| RenderError::Png(e.to_string()))?;
        let mut encoder = png::Encoder::new(&mut out, side, side);
        encoder.set_color(png::ColorType::Grayscale);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder
            .write_header()
            .map_err(|e| RenderError::Png(e.to_string()))?;
        writer
            .write_image_data(&pixels)
            .map_err(|e| RenderError::Png(e.to_string()))?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_svg_and_png() {
        let payload = "00020101021226270012hk.com.hkicl02071234567520400005303344";
        let image = svg(payload, 200).expect("svg");
        assert!(image.starts_with("<?xml") && image.contains("<svg"));
        let bytes = png(payload, 4).expect("png");
        assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
        let decoder = ::png::Decoder::new(std::io::Cursor::new(bytes));
        let reader = decoder.read_info().expect("png header");
        let info = reader.info();
        assert_eq!(info.width, info.height);
        assert_eq!(info.width % 4, 0);
        assert!(svg(&"x".repeat(3000), 10).is_err());
    }
}
