from rest_framework.routers import SimpleRouter

from apps.memories.views import MemoryViewSet

router = SimpleRouter()
# DRF turns any trailing_slash argument into "/"; the attribute takes the optional slash.
router.trailing_slash = "/?"
router.register("memories", MemoryViewSet, basename="memory")

urlpatterns = router.urls
