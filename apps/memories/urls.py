from rest_framework.routers import SimpleRouter

from apps.memories.views import MemoryViewSet

router = SimpleRouter(trailing_slash="/?")
router.register("memories", MemoryViewSet, basename="memory")

urlpatterns = router.urls
