"""1:N search: the Gallery protocol and its backends (faiss for float vectors)."""

from hawiya.search.faiss_gallery import FaissGallery
from hawiya.search.gallery import Gallery, Hit

__all__ = ["FaissGallery", "Gallery", "Hit"]
